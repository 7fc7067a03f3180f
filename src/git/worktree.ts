import { constants } from 'node:fs';
import { lstat, open, readdir, readFile, readlink, realpath, rm, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { filesBetween, type CommitFiles } from './commitFiles.ts';
import { git, gitLine, type GitIdentity } from './git.ts';
import type { GitProject } from './project.ts';

/** One task's git worktree and branch. */
export interface TaskWorktree {
  /** Absolute path of the worktree folder (outside the project folder). */
  dir: string;
  /** Short branch name, e.g. `backend/<taskDirName>`. */
  branch: string;
  /** `refs/heads/<branch>` */
  ref: string;
  /** The worktree's own folder inside the project's git folder. */
  adminDir: string;
  /** The project commit the branch was taken from. */
  base: string;
  /** Folders of other worktrees (a dead holder's) whose record held this branch and was dropped to open this one. */
  released?: string[];
}

/**
 * The worktree's admin folder, found from the project's side (its
 * `worktrees/*\/gitdir` files) rather than from the `.git` file inside the
 * worktree, which a model could have rewritten to point anywhere.
 */
async function findAdminDir(project: GitProject, dir: string): Promise<string | undefined> {
  const root = path.join(project.commonDir, 'worktrees');
  const names = await readdir(root).catch(() => [] as string[]);
  const wanted = path.join(dir, '.git');
  for (const name of names) {
    const gitdir = await readFile(path.join(root, name, 'gitdir'), 'utf8').catch(() => '');
    if (gitdir.trim() === wanted) return path.join(root, name);
  }
  return undefined;
}

/**
 * Drops git's record of every worktree other than `keep` that has `ref`
 * checked out: what an earlier holder of the task left (killed, or on
 * another instance with its own workspace), which would make `git worktree
 * add` refuse the branch ("already checked out at ..."). Only the record in
 * `<commonDir>/worktrees/` goes: the caller holds the task's claim, so that
 * holder is presumed dead; its folder, which may be on another disk or be
 * someone's own checkout, is left where it is (a listener sweeps its own
 * workspace of such orphans at start-up, see sweepOrphanWorktrees). The
 * project folder's own checkout is never touched. Returns the folders whose
 * record was dropped.
 */
export async function releaseBranch(project: GitProject, ref: string, keep?: string): Promise<string[]> {
  const root = path.join(project.commonDir, 'worktrees');
  const names = await readdir(root).catch(() => [] as string[]);
  const kept = keep === undefined ? undefined : path.join(keep, '.git');
  const released: string[] = [];
  for (const name of names) {
    const admin = path.join(root, name);
    const head = (await readFile(path.join(admin, 'HEAD'), 'utf8').catch(() => '')).trim();
    if (head !== `ref: ${ref}`) continue;
    const gitdir = (await readFile(path.join(admin, 'gitdir'), 'utf8').catch(() => '')).trim();
    if (kept !== undefined && gitdir === kept) continue;
    await rm(admin, { recursive: true, force: true });
    released.push(gitdir.endsWith('/.git') ? path.dirname(gitdir) : gitdir || admin);
  }
  return released;
}

/**
 * Removes the folders directly under `worktreeRoot` that are worktrees of
 * this project git no longer knows: their `.git` file points into
 * `<commonDir>/worktrees/` at a record that is gone or names another folder
 * (a task another holder took over and released, see releaseBranch). Other
 * folders are left alone. Returns what was removed.
 */
export async function sweepOrphanWorktrees(project: GitProject, worktreeRoot: string): Promise<string[]> {
  const records = path.join(project.commonDir, 'worktrees') + path.sep;
  const removed: string[] = [];
  for (const name of await readdir(worktreeRoot).catch(() => [] as string[])) {
    const dir = path.join(worktreeRoot, name);
    const dotGit = (await readFile(path.join(dir, '.git'), 'utf8').catch(() => '')).trim();
    const pointer = /^gitdir: (.+)$/.exec(dotGit)?.[1];
    if (pointer === undefined || !path.resolve(dir, pointer).startsWith(records)) continue;
    const back = (await readFile(path.join(path.resolve(dir, pointer), 'gitdir'), 'utf8').catch(() => '')).trim();
    if (back === path.join(dir, '.git')) continue; // still a worktree git knows
    await rm(dir, { recursive: true, force: true });
    removed.push(dir);
  }
  return removed;
}

/** Runs git on a worktree through its admin folder, never through the worktree's own `.git` file. */
export function inWorktree(wt: Pick<TaskWorktree, 'adminDir' | 'dir'>, args: readonly string[], options: { identity?: GitIdentity; input?: string | Buffer; okCodes?: number[] } = {}) {
  return git(['--git-dir', wt.adminDir, '--work-tree', wt.dir, ...args], { cwd: wt.dir, ...options });
}

const exists = (p: string): Promise<boolean> => stat(p).then(() => true, () => false);

export interface OpenWorktreeOptions {
  /** Where the worktree lives (absolute; outside the project). */
  dir: string;
  branch: string;
  /** The base recorded by an earlier holder of the task, if any. */
  base?: string | undefined;
  /** A commit to reset the worktree to (the last one a checkpoint recorded); the base when absent. */
  resetTo?: string | undefined;
  /** Called on the new, empty worktree folder before `git worktree add` fills it (it gets the Bash box's ACL). */
  prepareDir?: (dir: string) => Promise<void>;
}

/**
 * Makes the task's worktree ready: creates the branch from the project
 * branch's head when it does not exist yet, (re)attaches the worktree folder,
 * then resets it to `resetTo` (or the base) and removes every file git does
 * not track, so what a worker that died had half-written is gone and what
 * the finished workers committed is there.
 */
export async function openWorktree(project: GitProject, o: OpenWorktreeOptions): Promise<TaskWorktree> {
  const ref = `refs/heads/${o.branch}`;
  const at = { cwd: project.root };
  let adminDir = await findAdminDir(project, o.dir);
  let base = o.base;
  let fresh = false;
  let released: string[] = [];
  if (adminDir === undefined) {
    // git's record of a worktree whose folder is gone would refuse the branch: forget those first.
    await git(['worktree', 'prune'], at);
    // So would an earlier holder's worktree of this branch whose folder is still there (a takeover).
    released = await releaseBranch(project, ref, o.dir);
    const branchTip = await git(['rev-parse', '--verify', '-q', ref], { ...at, okCodes: [1] });
    // A folder git does not know as a worktree is a leftover of ours (it is under our workspace root).
    if (await exists(o.dir)) await rm(o.dir, { recursive: true, force: true });
    // git worktree add fills an existing empty folder: what it checks out inherits the folder's default ACL.
    if (o.prepareDir) await o.prepareDir(o.dir);
    if (branchTip.code === 0) {
      await git(['worktree', 'add', '-q', o.dir, o.branch], at);
    } else {
      base = await gitLine(['rev-parse', '--verify', `refs/heads/${project.branch}^{commit}`], at);
      await git(['worktree', 'add', '-q', '--no-track', '-b', o.branch, o.dir, base], at);
      fresh = o.resetTo === undefined;
    }
    adminDir = await findAdminDir(project, o.dir);
    if (adminDir === undefined) throw new Error(`git worktree add made no worktree at ${o.dir}`);
  }
  // Locks a killed git process left behind; nobody else works on this task's worktree now.
  await Promise.all(
    [path.join(adminDir, 'index.lock'), path.join(adminDir, 'HEAD.lock'), path.join(project.commonDir, `${ref}.lock`)].map((p) =>
      rm(p, { force: true }),
    ),
  );
  base ??= await gitLine(['merge-base', ref, `refs/heads/${project.branch}`], at);
  const wt: TaskWorktree = { dir: o.dir, branch: o.branch, ref, adminDir, base, ...(released.length > 0 ? { released } : {}) };
  if (!fresh) {
    // Just checked out from its base, a new worktree is already clean; any other is reset.
    await inWorktree(wt, ['reset', '-q', '--hard', o.resetTo ?? base]);
    // -ff: also a nested repository a worker made (clean leaves those alone with one -f).
    await inWorktree(wt, ['clean', '-q', '-f', '-f', '-d', '-x']);
  }
  return wt;
}

/** What one worker's commit did: the commit, what it changed, and what was left out of it and why (issues for the task's result). */
export interface CommitOutcome {
  commit: string;
  /** The files the commit changed against its parent (a file written again unchanged is in no list). */
  files: CommitFiles;
  issues: string[];
}

/** A path inside the worktree as the tools record it: relative, posix, no `.`/`..`/empty segment. */
const wellFormed = (p: string): boolean =>
  p !== '' && !p.startsWith('/') && !p.includes('\0') && p.split('/').every((s) => s !== '' && s !== '.' && s !== '..');

/** A name git (on this or another file system) would take for a repository's own folder: `.git`, `.GIT`, `.git.`, `git~1`. */
const isGitName = (segment: string): boolean => /^\.git[. ]*$/i.test(segment) || /^git~\d+$/i.test(segment);

const lstatOf = (p: string) => lstat(p).catch(() => undefined);

/** Where `rel` stands in the worktree, without following a symlink anywhere on the way. */
async function standing(root: string, rel: string): Promise<'file' | 'symlink' | 'dir' | 'other' | 'missing' | 'beyond'> {
  const parts = rel.split('/');
  let at = root;
  for (const part of parts.slice(0, -1)) {
    at = path.join(at, part);
    const st = await lstatOf(at);
    if (st === undefined) return 'missing';
    if (!st.isDirectory()) return 'beyond'; // a symlink or a file where a folder was: nothing of `rel` is there
  }
  const st = await lstatOf(path.join(root, rel));
  if (st === undefined) return 'missing';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isFile()) return 'file';
  return st.isDirectory() ? 'dir' : 'other';
}

/**
 * The folder (relative to the worktree) that makes `rel` part of a git
 * repository inside the project, or undefined: a `.git` entry on its way,
 * or a folder holding `HEAD`, `objects` and `refs` (what git itself takes
 * for a repository). Committed and checked out elsewhere, such a folder's
 * `config` (`core.fsmonitor`, `core.worktree`) would run for whoever runs
 * git inside it. `looks` caches the folders already asked about.
 */
async function repositoryOf(root: string, rel: string, looks: Map<string, Promise<boolean>>): Promise<string | undefined> {
  const parts = rel.split('/');
  for (let i = 0; i < parts.length; i++) {
    if (isGitName(parts[i]!)) return parts.slice(0, i + 1).join('/');
  }
  for (let i = 1; i < parts.length; i++) {
    const folder = parts.slice(0, i).join('/');
    let look = looks.get(folder);
    if (look === undefined) {
      const abs = path.join(root, folder);
      look = Promise.all(['HEAD', 'objects', 'refs'].map((n) => lstatOf(path.join(abs, n)))).then((found) => found.every((st) => st !== undefined));
      looks.set(folder, look);
    }
    if (await look) return folder;
  }
  return undefined;
}

const FILE_MODES = new Set(['100644', '100755', '120000']);

/** Tracked files at `commit`: path → mode (blobs and symlinks only, not folders or submodules). */
async function trackedFiles(wt: TaskWorktree, commit: string): Promise<Map<string, string>> {
  const out = await inWorktree(wt, ['ls-tree', '-r', '-z', '--full-tree', commit]);
  const files = new Map<string, string>();
  for (const entry of out.stdout.split('\0')) {
    const tab = entry.indexOf('\t');
    if (tab < 0) continue;
    const mode = entry.slice(0, entry.indexOf(' '));
    if (FILE_MODES.has(mode)) files.set(entry.slice(tab + 1), mode);
  }
  return files;
}

/** How many fds one hash-object call is handed at once. */
const HASH_BATCH = 200;

/**
 * Writes the blobs of regular files into git's object store exactly as they
 * are (`hash-object --no-filters`: no clean filter or eol conversion runs).
 * Each file is opened here without following a symlink and checked to be
 * the file at its path inside the worktree (no folder on the way swapped
 * for a symlink meanwhile); git then reads that open file through
 * /proc/<pid>/fd, never through a path a worker could change under it.
 * Returns path → [mode, sha]; files that moved or changed type are left out
 * with an issue.
 */
async function hashFiles(wt: TaskWorktree, realRoot: string, files: readonly string[], issues: string[]): Promise<Map<string, [string, string]>> {
  const hashed = new Map<string, [string, string]>();
  for (let i = 0; i < files.length; i += HASH_BATCH) {
    const opened: { rel: string; handle: FileHandle; mode: string }[] = [];
    try {
      for (const rel of files.slice(i, i + HASH_BATCH)) {
        let handle: FileHandle;
        try {
          handle = await open(path.join(realRoot, rel), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code ?? String(error);
          issues.push(`${rel} could not be opened to commit it (${code}: it changed meanwhile, became a symlink, or is unreadable): not committed`);
          continue;
        }
        const [st, where] = await Promise.all([handle.stat(), readlink(`/proc/self/fd/${handle.fd}`).catch(() => '')]);
        if (!st.isFile() || where !== path.join(realRoot, rel)) {
          await handle.close();
          issues.push(`${rel} is not a regular file inside the worktree (found ${where || 'something else'}): not committed`);
          continue;
        }
        opened.push({ rel, handle, mode: st.mode & 0o100 ? '100755' : '100644' });
      }
      if (opened.length === 0) continue;
      const input = opened.map((o) => `/proc/${process.pid}/fd/${o.handle.fd}\n`).join('');
      const out = await inWorktree(wt, ['hash-object', '-w', '--no-filters', '--stdin-paths'], { input });
      const shas = out.stdout.split('\n').filter(Boolean);
      opened.forEach((o, k) => hashed.set(o.rel, [o.mode, shas[k]!]));
    } finally {
      await Promise.all(opened.map((o) => o.handle.close().catch(() => undefined)));
    }
  }
  return hashed;
}

/** A symlink's blob: its target's text, as git stores it. */
async function hashLink(wt: TaskWorktree, realRoot: string, rel: string): Promise<string | undefined> {
  const target = await readlink(path.join(realRoot, rel), { encoding: 'buffer' }).catch(() => undefined);
  if (target === undefined) return undefined;
  return (await inWorktree(wt, ['hash-object', '-w', '--no-filters', '--stdin'], { input: target })).stdout.trim();
}

const listed = (paths: readonly string[], max = 5): string =>
  paths.slice(0, max).join(', ') + (paths.length > max ? ` and ${paths.length - max} more` : '');

/**
 * Commits exactly `paths` (the files one worker's tools recorded as created
 * or modified) and `deleted` (the files its tools saw removed) on the task
 * branch, whatever else is changed in the worktree (a worker running
 * alongside). git runs none of its drivers on them: blobs are written with
 * `hash-object --no-filters` and staged with `update-index --index-info`,
 * the worktree's `.gitattributes` is never consulted. Left out, each with an
 * issue for the task's result (the commit still happens):
 *
 * - files inside a git repository a worker made (a `.git` entry, or a
 *   folder with `HEAD`, `objects` and `refs`);
 * - deletions of paths that were not tracked files at the parent commit,
 *   or that are still there (a folder's name, `lnk/x` beyond a symlink);
 * - anything neither a regular file nor a symlink.
 *
 * Files the project's .gitignore ignores are skipped unless already
 * tracked. A worker that changed nothing still gets its (empty) commit, so
 * the history names every worker. The outcome's `files` are what the
 * commit changed (filesBetween), not the paths asked for. Callers serialise
 * commits per worktree: they share one index.
 */
export async function commitPaths(
  wt: TaskWorktree,
  paths: readonly string[],
  message: string,
  identity: GitIdentity,
  deleted: readonly string[] = [],
): Promise<CommitOutcome> {
  const issues: string[] = [];
  const realRoot = await realpath(wt.dir);
  const parent = (await inWorktree(wt, ['rev-parse', '--verify', `${wt.ref}^{commit}`])).stdout.trim();
  const looks = new Map<string, Promise<boolean>>();
  const repositories = new Map<string, string[]>();
  const files: string[] = [];
  const links: string[] = [];
  const gone = new Set<string>(); // recorded as written, no longer there: a deletion if it was tracked
  // The worktree's own `.git` file links it to the project: never the worker's to commit.
  for (const rel of new Set(paths.filter((p) => wellFormed(p) && p !== '.git'))) {
    const repo = await repositoryOf(realRoot, rel, looks);
    if (repo !== undefined) {
      repositories.set(repo, [...(repositories.get(repo) ?? []), rel]);
      continue;
    }
    const kind = await standing(realRoot, rel);
    if (kind === 'file') files.push(rel);
    else if (kind === 'symlink') links.push(rel);
    else if (kind === 'other') issues.push(`${rel} is neither a file nor a symlink (a fifo, socket or device): not committed`);
    else gone.add(rel);
  }
  for (const [repo, inside] of repositories) {
    issues.push(
      `${repo} is a git repository inside the project (${isGitName(repo.split('/').at(-1)!) ? 'a .git entry' : 'HEAD, objects/ and refs/'}): ` +
        `its ${inside.length} file(s) (${listed(inside)}) were left out of the commit, since its config would run for whoever runs git there`,
    );
  }

  // Ignored files are skipped unless tracked (check-ignore answers from the index, which holds the parent's tree).
  const candidates = [...files, ...links];
  const skip = new Set<string>();
  if (candidates.length > 0) {
    // `./` keeps a name that starts with `:` from being read as pathspec magic (check-ignore takes no --literal-pathspecs).
    const ignored = await inWorktree(wt, ['check-ignore', '-z', '--stdin'], { input: candidates.map((p) => `./${p}\0`).join(''), okCodes: [1] });
    for (const p of ignored.stdout.split('\0')) if (p) skip.add(p.replace(/^\.\//, ''));
  }

  const lines: string[] = [];
  const hashed = await hashFiles(wt, realRoot, files.filter((p) => !skip.has(p)), issues);
  for (const [rel, [mode, sha]] of hashed) lines.push(`${mode} ${sha}\t${rel}`);
  for (const rel of links.filter((p) => !skip.has(p))) {
    const sha = await hashLink(wt, realRoot, rel);
    if (sha === undefined) issues.push(`${rel} changed while it was committed: not committed`);
    else lines.push(`120000 ${sha}\t${rel}`);
  }

  // Deletions: only of files tracked at the parent that are really gone from the worktree.
  const asked = [...new Set(deleted)];
  if (gone.size > 0 || asked.length > 0) {
    const tracked = await trackedFiles(wt, parent);
    const zero = '0'.repeat(parent.length);
    const ignoredDeletions: string[] = [];
    for (const rel of gone) if (tracked.has(rel)) lines.push(`0 ${zero}\t${rel}`);
    for (const rel of asked) {
      if (gone.has(rel)) continue;
      if (!wellFormed(rel) || !tracked.has(rel)) {
        ignoredDeletions.push(`${rel} (not a tracked file at ${parent.slice(0, 12)})`);
        continue;
      }
      const kind = await standing(realRoot, rel);
      if (kind === 'file' || kind === 'symlink') ignoredDeletions.push(`${rel} (still in the worktree)`);
      else lines.push(`0 ${zero}\t${rel}`);
    }
    if (ignoredDeletions.length > 0) issues.push(`deletions ignored: ${listed(ignoredDeletions, 10)}`);
  }

  if (lines.length > 0) await inWorktree(wt, ['update-index', '-z', '--index-info'], { input: `${lines.join('\0')}\0` });
  const tree = (await inWorktree(wt, ['write-tree'])).stdout.trim();
  const commit = (await inWorktree(wt, ['commit-tree', tree, '-p', parent, '-F', '-'], { identity, input: message })).stdout.trim();
  await inWorktree(wt, ['update-ref', '-m', 'backend-orchestrator: worker commit', wt.ref, commit, parent]);
  return { commit, files: await filesBetween(wt.adminDir, parent, commit), issues };
}

/** Removes the worktree folder and git's record of it; the branch stays. */
export async function removeWorktree(project: GitProject, dir: string): Promise<void> {
  const removed = await git(['worktree', 'remove', '--force', '--force', dir], { cwd: project.root, okCodes: [128] });
  await rm(dir, { recursive: true, force: true });
  if (removed.code !== 0) await git(['worktree', 'prune'], { cwd: project.root });
}

/** `--stat`-style summary of what the branch changed since its base, e.g. `3 files changed, 40 insertions(+)`. */
export async function diffstat(project: GitProject, base: string, tip: string): Promise<string> {
  return (await gitLine(['diff', '--no-ext-diff', '--no-textconv', '--shortstat', base, tip], { cwd: project.root })).trim();
}
