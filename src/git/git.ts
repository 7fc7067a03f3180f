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
  input?: string;
  signal?: AbortSignal;
  /** Exit codes that are answers, not failures (merge-tree's 1 = conflicts, is-ancestor's 1 = no). */
  okCodes?: readonly number[];
}

export interface GitResult {
  stdout: string;
  code: number;
}

// Settings that keep a project's own configuration from changing what the
// orchestrator's commands do: no hooks (they would run with our environment
// on files a model wrote), no signing prompts, no pager, no fsmonitor daemon.
const SAFE = ['-c', 'core.hooksPath=/dev/null', '-c', 'commit.gpgsign=false', '-c', 'core.fsmonitor=false', '--no-pager'];

/**
 * Runs git as an asynchronous child (never blocking the event loop), with an
 * environment of our choosing: PATH and HOME only, plus the author and
 * committer identity when one is given. Non-zero exits other than `okCodes`
 * throw GitCommandError.
 */
export function git(args: readonly string[], options: GitOptions): Promise<GitResult> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', GIT_TERMINAL_PROMPT: '0' };
  if (process.env.HOME) env.HOME = process.env.HOME;
  if (options.identity) {
    env.GIT_AUTHOR_NAME = options.identity.name;
    env.GIT_AUTHOR_EMAIL = options.identity.email;
    env.GIT_COMMITTER_NAME = options.identity.name;
    env.GIT_COMMITTER_EMAIL = options.identity.email;
  }
  const full = [...SAFE, ...args];
  return new Promise((resolve, reject) => {
    const child = execFile(
      'git',
      full,
      { cwd: options.cwd, env, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8', ...(options.signal ? { signal: options.signal } : {}) },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        if (code !== null && (code === 0 || options.okCodes?.includes(code))) resolve({ stdout, code });
        else reject(new GitCommandError(args, code, String(stderr || (error?.message ?? '')), String(stdout)));
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}

/** stdout without its final newline. */
export async function gitLine(args: readonly string[], options: GitOptions): Promise<string> {
  return (await git(args, options)).stdout.replace(/\n$/, '');
}
