import { execFile } from 'node:child_process';
import { OrchestratorError } from '../errors.ts';

/**
 * A git remote the project is shared through (remote mode, docs/projects.md):
 * its URL as given, the URL to show (credentials taken out), and the
 * environment its transport commands run with (a token, when one is given,
 * travels there as an `http.extraHeader`, never on argv).
 */
export interface Remote {
  url: string;
  /** The URL without a user or password: what logs, errors and results name. */
  shown: string;
  /** Extra environment of transport commands: GIT_CONFIG_COUNT/KEY/VALUE for the token, if any. */
  env: Readonly<Record<string, string>>;
}

/** `user@host:path` (scp-like ssh), not a Windows drive and not a path with a slash before the colon. */
const SCP_LIKE = /^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:(?!\/\/)/;
const URL_LIKE = /^(https?|ssh|git|file|git\+ssh|ssh\+git):\/\//i;

/** Whether `--project` names a remote by URL (a bare repository's path is found by looking, in src/project). */
export function isRemoteUrl(spec: string): boolean {
  return URL_LIKE.test(spec) || SCP_LIKE.test(spec);
}

/** The URL without its user and password (`https://x:tok@host/r.git` → `https://host/r.git`). */
export function shownUrl(url: string): string {
  if (!URL_LIKE.test(url)) return url;
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return url.replace(/\/\/[^/@]*@/, '//');
  }
}

/**
 * The header a token is sent as: `Authorization: Basic` of
 * `x-access-token:<token>`, which GitHub, GitLab and Gitea take for an HTTPS
 * token (any user name goes with a token there).
 */
export function tokenHeader(token: string): string {
  return `Authorization: Basic ${Buffer.from(`x-access-token:${token}`).toString('base64')}`;
}

/** What the scrubber must learn from a token: the token, and the header value it travels in. */
export function tokenSecrets(token: string | undefined): string[] {
  if (token === undefined) return [];
  const header = tokenHeader(token);
  return [token, header, header.slice('Authorization: Basic '.length)];
}

export function openRemote(url: string, token?: string): Remote {
  const env: Record<string, string> = {};
  if (token !== undefined) {
    env.GIT_CONFIG_COUNT = '1';
    env.GIT_CONFIG_KEY_0 = 'http.extraHeader';
    env.GIT_CONFIG_VALUE_0 = tokenHeader(token);
  }
  return { url, shown: shownUrl(url), env };
}

/**
 * The remote did not answer, or refused the connection, the credentials or
 * the repository: the work stays in the local mirror and the push is tried
 * again. Says the URL (without credentials) and git's reason.
 */
export class RemoteUnreachableError extends OrchestratorError {
  override readonly retryable: boolean = true;
  constructor(
    readonly url: string,
    readonly why: string,
    options?: ErrorOptions,
  ) {
    super(`the project's remote ${url} could not be reached (${why}): the work stays in the local mirror and is pushed when the remote answers again`, options);
  }
}

/**
 * Settings of every transport command: no hooks (a pre-push hook would run
 * with our environment), no fsmonitor, no pager or prompt, and only the
 * transports a remote project can use (never `ext::`, which runs a
 * command). The host's credential helper, SSH agent and config stay in
 * force: they are how git on this host reaches the remote.
 */
const TRANSPORT = [
  '-c', 'core.hooksPath=/dev/null',
  '-c', 'core.fsmonitor=false',
  '-c', 'core.pager=cat',
  '-c', 'protocol.allow=never',
  '-c', 'protocol.https.allow=always',
  '-c', 'protocol.http.allow=always',
  '-c', 'protocol.ssh.allow=always',
  '-c', 'protocol.git.allow=always',
  '-c', 'protocol.file.allow=always',
  '--no-pager',
];

/** The environment a transport command gets: PATH, HOME, the SSH agent and proxy variables of the host, and the token's config. */
function transportEnv(remote: Remote): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', GIT_TERMINAL_PROMPT: '0', GIT_ATTR_NOSYSTEM: '1' };
  for (const name of ['HOME', 'SSH_AUTH_SOCK', 'GIT_SSH_COMMAND', 'HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'NO_PROXY', 'no_proxy']) {
    const v = process.env[name];
    if (v !== undefined) env[name] = v;
  }
  return { ...env, ...remote.env };
}

/** The last `fatal:`/`error:` line of git's stderr (or its last line): why a transport failed, in git's words. */
function reason(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  const fatal = [...lines].reverse().find((l) => /^(fatal|error):/.test(l));
  return (fatal ?? lines.at(-1) ?? 'no answer').replace(/^(fatal|error):\s*/, '').slice(0, 300);
}

interface Run {
  stdout: string;
  stderr: string;
  code: number | null;
}

function run(remote: Remote, args: readonly string[], cwd: string, timeoutMs: number): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile('git', [...TRANSPORT, ...args], { cwd, env: transportEnv(remote), maxBuffer: 64 * 1024 * 1024, encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolve({ stdout, stderr: error && code === null ? `${stderr}\nfatal: ${error.killed ? `no answer within ${timeoutMs} ms` : error.message}` : stderr, code });
    });
    child.stdin?.on('error', () => undefined);
    child.stdin?.end();
  });
}

/** How long one transport command may take before the remote counts as unreachable. */
export const TRANSPORT_TIMEOUT_MS = 120_000;

/**
 * The remote's branches (`refs/heads/*`, or those named) and where each
 * points; with `symref`, also the branch its HEAD names.
 * Throws RemoteUnreachableError when the remote does not answer.
 */
export async function lsRemote(remote: Remote, cwd: string, refs: readonly string[] = []): Promise<{ heads: Map<string, string>; head?: string }> {
  const r = await run(remote, ['ls-remote', '--symref', remote.url, ...(refs.length ? refs : ['HEAD', 'refs/heads/*'])], cwd, TRANSPORT_TIMEOUT_MS);
  if (r.code !== 0) throw new RemoteUnreachableError(remote.shown, reason(r.stderr));
  const heads = new Map<string, string>();
  let head: string | undefined;
  for (const line of r.stdout.split('\n')) {
    const sym = /^ref: refs\/heads\/(\S+)\tHEAD$/.exec(line);
    if (sym) head = sym[1];
    const m = /^([0-9a-f]{40,64})\t(refs\/heads\/\S+)$/.exec(line);
    if (m) heads.set(m[2]!, m[1]!);
  }
  return head === undefined ? { heads } : { heads, head };
}

/**
 * Fetches `refspecs` from the remote into the repository at `gitDir`
 * (objects and the refs they name; no tags). Throws RemoteUnreachableError
 * when the remote does not answer or lacks a ref named without a `*`.
 */
export async function fetchRefs(remote: Remote, gitDir: string, refspecs: readonly string[]): Promise<void> {
  if (refspecs.length === 0) return;
  const r = await run(remote, ['--git-dir', gitDir, 'fetch', '--quiet', '--no-tags', '--no-write-fetch-head', '--no-auto-gc', remote.url, ...refspecs], gitDir, TRANSPORT_TIMEOUT_MS);
  if (r.code !== 0) throw new RemoteUnreachableError(remote.shown, reason(r.stderr));
}

export type PushOutcome =
  /** The remote's ref now points at the commit pushed. */
  | { kind: 'pushed' }
  /** The remote refused it: the ref was not where `expected` said (someone moved it), or a push that is not a fast-forward. */
  | { kind: 'rejected'; why: string };

/**
 * Pushes `sha` to `ref` (`refs/heads/…`) on the remote as a compare-and-swap:
 * with `expected` a commit, only while the remote's ref still points there
 * (`--force-with-lease=<ref>:<expected>`); with `expected` null, only while
 * it does not exist; without, a plain push (refused unless a fast-forward).
 * A refusal is an answer (`rejected`); a remote that does not answer throws
 * RemoteUnreachableError.
 *
 * @example
 * await pushRef(remote, mirror, { sha: merged, ref: 'refs/heads/main', expected: head });
 */
export async function pushRef(remote: Remote, gitDir: string, o: { sha: string; ref: string; expected?: string | null }): Promise<PushOutcome> {
  const lease = o.expected === undefined ? [] : [`--force-with-lease=${o.ref}:${o.expected ?? ''}`];
  const r = await run(remote, ['--git-dir', gitDir, 'push', '--porcelain', '--no-verify', ...lease, remote.url, `${o.sha}:${o.ref}`], gitDir, TRANSPORT_TIMEOUT_MS);
  // --porcelain: one line per ref, `<flag>\t<from>:<to>\t<summary>`; `!` is a refusal.
  const line = r.stdout.split('\n').find((l) => l.split('\t')[1]?.endsWith(`:${o.ref}`));
  if (line !== undefined) {
    const [flag, , summary] = line.split('\t');
    if (flag === '!') return { kind: 'rejected', why: (summary ?? 'rejected').trim() };
    if (r.code === 0) return { kind: 'pushed' };
  }
  throw new RemoteUnreachableError(remote.shown, reason(r.stderr));
}

/**
 * Deletes `ref` on the remote while it still points at `expected` (a lease):
 * a branch that got new commits since is someone's work. Returns whether it went.
 */
export async function deleteRemoteRef(remote: Remote, gitDir: string, ref: string, expected: string): Promise<boolean> {
  const r = await run(remote, ['--git-dir', gitDir, 'push', '--porcelain', '--no-verify', `--force-with-lease=${ref}:${expected}`, remote.url, `:${ref}`], gitDir, TRANSPORT_TIMEOUT_MS);
  if (r.code === 0) return true;
  if (r.stdout.includes('\t:' + ref)) return false;
  throw new RemoteUnreachableError(remote.shown, reason(r.stderr));
}

/**
 * A page where a person can review `branch` against `base` and open a pull
 * (merge) request, for the forges whose URL shape is known from the remote's
 * URL: GitHub, GitLab, Bitbucket, and Gitea/Forgejo-like hosts (any other
 * https host is taken to be one of those last). Undefined for a remote no
 * browser can show (file://, a bare path, git://).
 *
 * @example
 * compareUrl('git@github.com:acme/app.git', 'main', 'backend/x') // 'https://github.com/acme/app/compare/main...backend/x'
 */
export function compareUrl(url: string, base: string, branch: string): string | undefined {
  let host: string;
  let repoPath: string;
  // The web pages of an ssh remote are on https at its host; an http(s) remote's are where it is (a port included).
  let origin: string;
  const scp = /^[^@]+@([^:]+):(.+)$/.exec(url);
  if (!URL_LIKE.test(url) && scp) {
    host = scp[1]!;
    repoPath = scp[2]!;
    origin = `https://${host}`;
  } else {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      return undefined;
    }
    if (!/^(https?|ssh|git\+ssh|ssh\+git):$/.test(u.protocol)) return undefined;
    host = u.hostname;
    repoPath = u.pathname;
    origin = /^https?:$/.test(u.protocol) ? `${u.protocol}//${u.host}` : `https://${host}`;
  }
  repoPath = repoPath.replace(/^\/+/, '').replace(/\/+$/, '').replace(/\.git$/, '');
  if (repoPath === '' || host === '') return undefined;
  const enc = (b: string) => b.split('/').map(encodeURIComponent).join('/');
  const site = `${origin}/${repoPath}`;
  if (/(^|\.)github\.com$/.test(host)) return `${site}/compare/${enc(base)}...${enc(branch)}`;
  if (/(^|\.)bitbucket\.org$/.test(host)) return `${site}/branch/${enc(branch)}?dest=${encodeURIComponent(base)}`;
  if (/gitlab/.test(host)) return `${site}/-/compare/${enc(base)}...${enc(branch)}`;
  // Gitea, Forgejo, Codeberg: the same compare path as GitHub's.
  return `${site}/compare/${enc(base)}...${enc(branch)}`;
}
