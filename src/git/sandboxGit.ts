import { chmod, lstat, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { git } from './git.ts';

/**
 * What of a repository's configuration git inside the sandbox needs to read
 * its objects (`git log`, `git diff`, `git status` in a task worktree): the
 * format and the extensions, nothing else. Remotes (and the tokens their
 * URLs can hold), `url.*.insteadOf`, `http.*.extraHeader`, credential
 * helpers, includes, drivers and hooks stay out.
 */
const KEPT = /^(core\.(repositoryformatversion|bare|filemode|symlinks|ignorecase|precomposeunicode)|extensions\.[a-z0-9-]+)$/;

const quote = (value: string): string => `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\t/g, '\\t')}"`;

/** The kept settings of `<commonDir>/config` (that file only, no includes), as the text of a config file. Pure but for the read. */
export async function sanitisedConfig(commonDir: string): Promise<string> {
  const listed = await git(['config', '--file', path.join(commonDir, 'config'), '-z', '--list'], { cwd: commonDir, okCodes: [1] });
  const sections = new Map<string, string[]>();
  for (const entry of listed.stdout.split('\0')) {
    const nl = entry.indexOf('\n');
    const key = (nl < 0 ? entry : entry.slice(0, nl)).toLowerCase();
    if (!KEPT.test(key)) continue;
    const value = nl < 0 ? 'true' : entry.slice(nl + 1);
    const [section, name] = [key.slice(0, key.indexOf('.')), key.slice(key.indexOf('.') + 1)];
    sections.set(section, [...(sections.get(section) ?? []), `\t${name} = ${quote(value)}`]);
  }
  const lines = ['# Written by backend-orchestrator for its sandbox: the project\'s format settings only.'];
  for (const [section, entries] of sections) lines.push(`[${section}]`, ...entries);
  return `${lines.join('\n')}\n`;
}

/** The sanitised config in a folder of its own outside the project (readable inside the box, writable by nobody there). */
export async function writeSanitisedConfig(commonDir: string): Promise<{ file: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'orch-sandbox-git-'));
  // mkdtemp makes it 0700: a box run as another uid (a root listener without a pids cgroup) must reach the file.
  // It holds format settings only, nothing secret.
  await chmod(dir, 0o755);
  const file = path.join(dir, 'config');
  await writeFile(file, await sanitisedConfig(commonDir), { mode: 0o644 });
  return { file, remove: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * The parts of git's shared folder a task worktree's git needs, bound
 * read-only: objects, refs, HEAD, and the task's own admin folder; `info`
 * (exclude, attributes) and `shallow` when there. Never the whole folder:
 * `config` (remote URLs with tokens), `logs` and `FETCH_HEAD` (fetch command
 * lines, URLs), `hooks`, other tasks' worktrees, `config.worktree`, or
 * anything a tool left there stay out. The caller binds the sanitised config
 * at `<commonDir>/config`.
 */
export async function worktreeGitBinds(commonDir: string, adminDir: string): Promise<string[]> {
  const wanted = ['objects', 'refs', 'packed-refs', 'HEAD', 'info', 'shallow'].map((n) => path.join(commonDir, n));
  const present = await Promise.all(wanted.map((p) => lstat(p).then((st) => (st.isSymbolicLink() ? undefined : p), () => undefined)));
  return [...present.filter((p): p is string => p !== undefined), adminDir];
}

/** The secret part of a URL's user info: the password, or a user name long enough to be a token (`https://<token>@host`). */
function urlCredentials(url: string): string[] {
  const m = /^[a-z][a-z0-9+.-]*:\/\/([^@/?#]*)@/i.exec(url.trim());
  if (!m) return [];
  const info = m[1]!;
  const colon = info.indexOf(':');
  const user = colon < 0 ? info : info.slice(0, colon);
  const password = colon < 0 ? '' : info.slice(colon + 1);
  const decode = (s: string): string => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  const out: string[] = [];
  if (password) out.push(password, decode(password));
  if (user && (!password || user.length >= 20)) out.push(user, decode(user));
  return out;
}

/**
 * Credentials in the project's git configuration (every scope, includes
 * followed): the user info of remote URLs (`url`, `pushurl`), of
 * `url.<base>.insteadOf` bases and values, and the value of
 * `http.*.extraHeader` (an Authorization header). For the scrubber: none of
 * them may reach a log line, a result or a prompt.
 */
export async function gitCredentials(root: string): Promise<string[]> {
  const listed = await git(
    ['config', '-z', '--get-regexp', '^(remote\\..*\\.(url|pushurl)|url\\..*\\.(insteadof|pushinsteadof)|http\\..*\\.?extraheader)$'],
    { cwd: root, okCodes: [1] },
  );
  const out = new Set<string>();
  for (const entry of listed.stdout.split('\0')) {
    const nl = entry.indexOf('\n');
    if (nl < 0) continue;
    const key = entry.slice(0, nl);
    const value = entry.slice(nl + 1);
    if (/extraheader$/i.test(key)) {
      const header = value.slice(value.indexOf(':') + 1).trim();
      out.add(header);
      const token = header.split(/\s+/).at(-1);
      if (token) out.add(token);
      continue;
    }
    for (const c of urlCredentials(value)) out.add(c);
    // url.<base>.insteadOf: the base, in the key, is the URL used.
    if (/^url\./i.test(key)) for (const c of urlCredentials(key.slice(4, key.lastIndexOf('.')))) out.add(c);
  }
  return [...out].filter((s) => s.length > 0);
}
