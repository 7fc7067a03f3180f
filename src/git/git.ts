import { execFile } from 'node:child_process';
import { GitCommandError } from './gitCommandError.ts';

/** Who the orchestrator's commits and merges are by. */
export interface GitIdentity {
  name: string;
  email: string;
}

export interface GitOptions {
  cwd: string;
  identity?: GitIdentity;
  /** Text fed to the command's stdin. */
  input?: string | Buffer;
  signal?: AbortSignal;
  /** Exit codes that are answers, not failures (merge-tree's 1 = conflicts, is-ancestor's 1 = no). */
  okCodes?: readonly number[];
  /**
   * The command runs on the repository as a bare one (`--git-dir <dir> -c
   * core.bare=true`, no `--work-tree`): it reads no work tree, so no filter
   * or driver can run and their look-up is skipped. Checked, not trusted.
   */
  bare?: boolean;
}

export interface GitResult {
  stdout: string;
  code: number;
}

/**
 * Settings that keep a repository's configuration, and anything a worker
 * wrote into a task's files (`.gitattributes`, a config include), from
 * making the orchestrator's git run a program: no hooks (they would run with
 * our environment on files a model wrote), no fsmonitor daemon, no pager, no
 * editor, no signing program, no transport at all (so no
 * `core.sshCommand`, credential helper or `ext::` remote), and only our
 * attributes files besides the tree's. Command-line `-c` beats every config
 * file, and git hands these to the git processes it starts itself
 * (GIT_CONFIG_PARAMETERS). Filter, merge and diff drivers have no such
 * switch: see `driverOverrides`.
 */
const SAFE = [
  '-c', 'core.hooksPath=/dev/null',
  '-c', 'core.fsmonitor=false',
  '-c', 'core.untrackedCache=false',
  '-c', 'core.pager=cat',
  '-c', 'core.editor=:',
  '-c', 'sequence.editor=:',
  '-c', 'core.sshCommand=false',
  '-c', 'core.askPass=',
  '-c', 'credential.helper=',
  '-c', 'protocol.allow=never',
  '-c', 'core.attributesFile=/dev/null',
  '-c', 'commit.gpgsign=false',
  '-c', 'tag.gpgsign=false',
  '-c', 'log.showSignature=false',
  '-c', 'gpg.program=false',
  '-c', 'gpg.ssh.program=false',
  '-c', 'gpg.x509.program=false',
  '--no-pager',
];

/**
 * Subcommands that read no file of a work tree (objects and refs only): no
 * clean or smudge filter, merge driver or textconv can run in them, so they
 * skip the look-up of the drivers to blank. Anything that reads the index
 * may not be here: even `write-tree` runs the clean filter on an entry whose
 * stat data says it may have changed.
 */
const NO_DRIVERS = new Set([
  'version', 'config', 'rev-parse', 'rev-list', 'merge-base', 'symbolic-ref', 'update-ref', 'commit-tree',
  'ls-tree', 'cat-file', 'for-each-ref', 'show-ref',
  // Reads ignore rules only: no filter, driver or textconv is ever run by it.
  'check-ignore',
]);

/** The subcommand of an argv that may start with `--git-dir X --work-tree Y` (as `inWorktree` passes them). */
function subcommand(args: readonly string[]): { global: string[]; name: string | undefined } {
  const global: string[] = [];
  let i = 0;
  while (i < args.length && (args[i] === '--git-dir' || args[i] === '--work-tree' || args[i] === '-c')) {
    global.push(args[i]!, args[i + 1]!);
    i += 2;
  }
  return { global, name: args[i] };
}

/** `filter.<name>.clean` → ['filter', '<name>', 'clean'] (the name may hold dots). */
function splitKey(key: string): [string, string, string] | undefined {
  const first = key.indexOf('.');
  const last = key.lastIndexOf('.');
  if (first <= 0 || last <= first) return undefined;
  return [key.slice(0, first).toLowerCase(), key.slice(first + 1, last), key.slice(last + 1).toLowerCase()];
}

/**
 * `-c` settings that blank every filter, merge and diff driver any config
 * file (system, global, the repository's, their includes) defines: git has
 * no switch that turns them all off, and a worker-written `.gitattributes`
 * can name any of them (`*.js filter=x`), so each one found is given an
 * empty command. An empty filter command is skipped (and `required` is
 * lifted), an empty merge driver or textconv fails the command instead of
 * running anything. The orchestrator's own staging and merging never need
 * them (`hash-object --no-filters`, a merge-tree that reads no in-tree
 * attributes, `diff --no-ext-diff --no-textconv`); this covers the commands
 * that check files out (`worktree add`, `reset --hard`, `merge --ff-only`)
 * or compare them (`status`).
 */
export async function driverOverrides(global: readonly string[], cwd: string, env: Record<string, string>): Promise<string[]> {
  const listed = await run(
    [...SAFE, ...global, 'config', '-z', '--get-regexp', '^(filter|merge|diff)\\.'],
    { cwd, env, okCodes: [1] },
  );
  const out = new Set<string>();
  for (const entry of listed.stdout.split('\0')) {
    const key = entry.split('\n')[0] ?? '';
    const parts = splitKey(key);
    if (!parts) continue;
    const [section, name] = parts;
    if (section === 'filter') {
      for (const v of ['clean', 'smudge', 'process']) out.add(`filter.${name}.${v}=`);
      out.add(`filter.${name}.required=false`);
    } else if (section === 'merge' && parts[2] === 'driver') {
      out.add(`merge.${name}.driver=`);
    } else if (section === 'diff' && (parts[2] === 'command' || parts[2] === 'textconv')) {
      out.add(`diff.${name}.command=`);
      out.add(`diff.${name}.textconv=`);
    }
  }
  return [...out].flatMap((setting) => ['-c', setting]);
}

/** The environment of every git command: nothing of ours but PATH and HOME (for the user's global config: `safe.directory`). */
function baseEnv(identity?: GitIdentity): Record<string, string> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    LC_ALL: 'C',
    GIT_TERMINAL_PROMPT: '0',
    GIT_PAGER: 'cat',
    GIT_EDITOR: ':',
    // No /etc/gitattributes.
    GIT_ATTR_NOSYSTEM: '1',
  };
  if (process.env.HOME) env.HOME = process.env.HOME;
  if (identity) {
    env.GIT_AUTHOR_NAME = identity.name;
    env.GIT_AUTHOR_EMAIL = identity.email;
    env.GIT_COMMITTER_NAME = identity.name;
    env.GIT_COMMITTER_EMAIL = identity.email;
  }
  return env;
}

function run(full: readonly string[], o: { cwd: string; env: Record<string, string>; input?: string | Buffer; signal?: AbortSignal; okCodes?: readonly number[] }, shown: readonly string[] = full): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'git',
      full,
      { cwd: o.cwd, env: o.env, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8', ...(o.signal ? { signal: o.signal } : {}) },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        if (code !== null && (code === 0 || o.okCodes?.includes(code))) resolve({ stdout, code });
        else reject(new GitCommandError(shown, code, String(stderr || (error?.message ?? '')), String(stdout)));
      },
    );
    // A command that exits before reading all its input is answered by its exit code, not EPIPE.
    child.stdin?.on('error', () => undefined);
    if (o.input !== undefined) child.stdin?.end(o.input);
    else child.stdin?.end();
  });
}

/**
 * Runs git as an asynchronous child (never blocking the event loop), with an
 * environment of our choosing (PATH and HOME only, plus the author and
 * committer identity when one is given), the SAFE settings and every
 * configured filter, merge and diff driver blanked. Non-zero exits other
 * than `okCodes` throw GitCommandError.
 */
export async function git(args: readonly string[], options: GitOptions): Promise<GitResult> {
  const env = baseEnv(options.identity);
  const { global, name } = subcommand(args);
  if (options.bare && (!global.includes('--git-dir') || global.includes('--work-tree') || !global.includes('core.bare=true'))) {
    throw new Error(`git ${args.join(' ')}: a bare run needs --git-dir and -c core.bare=true, and no --work-tree`);
  }
  const drivers = options.bare || (name !== undefined && NO_DRIVERS.has(name)) ? [] : await driverOverrides(global, options.cwd, env);
  return run([...SAFE, ...drivers, ...args], { ...options, env }, args);
}

/** The same as `git`, with stdout as bytes (blobs are not text). */
export async function gitBytes(args: readonly string[], options: GitOptions): Promise<Buffer> {
  const env = baseEnv(options.identity);
  const { global, name } = subcommand(args);
  if (options.bare && (!global.includes('--git-dir') || global.includes('--work-tree') || !global.includes('core.bare=true'))) {
    throw new Error(`git ${args.join(' ')}: a bare run needs --git-dir and -c core.bare=true, and no --work-tree`);
  }
  const drivers = options.bare || (name !== undefined && NO_DRIVERS.has(name)) ? [] : await driverOverrides(global, options.cwd, env);
  const full = [...SAFE, ...drivers, ...args];
  return new Promise((resolve, reject) => {
    const child = execFile('git', full, { cwd: options.cwd, env, maxBuffer: 1024 ** 3, encoding: 'buffer' }, (error, stdout, stderr) => {
      if (error) reject(new GitCommandError(args, typeof error.code === 'number' ? error.code : null, stderr.toString(), ''));
      else resolve(stdout);
    });
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(options.input ?? '');
  });
}

/** stdout without its final newline. */
export async function gitLine(args: readonly string[], options: GitOptions): Promise<string> {
  return (await git(args, options)).stdout.replace(/\n$/, '');
}
