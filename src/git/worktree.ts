import { readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
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

/** Runs git on a worktree through its admin folder, never through the worktree's own `.git` file. */
export function inWorktree(wt: Pick<TaskWorktree, 'adminDir' | 'dir'>, args: readonly string[], options: { identity?: GitIdentity; input?: string; okCodes?: number[] } = {}) {
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
  if (adminDir === undefined) {
    // git's record of a worktree whose folder is gone would refuse the branch: forget those first.
    await git(['worktree', 'prune'], at);
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
  const wt: TaskWorktree = { dir: o.dir, branch: o.branch, ref, adminDir, base };
  if (!fresh) {
    // Just checked out from its base, a new worktree is already clean; any other is reset.
    await inWorktree(wt, ['reset', '-q', '--hard', o.resetTo ?? base]);
    await inWorktree(wt, ['clean', '-q', '-f', '-d', '-x']);
  }
  return wt;
}

/** Drops paths git must never be told to add: the worktree's `.git` file and anything inside a `.git`. */
const committable = (p: string): boolean => p !== '' && !p.split('/').includes('.git') && !path.isAbsolute(p) && !p.startsWith('..');

/**
 * Commits exactly `paths` (the files one worker's tools recorded, created,
 * modified or deleted) on the task branch, whatever else is changed in the
 * worktree (a worker running alongside), skipping files the project's
 * .gitignore ignores unless they are already tracked. A worker that changed
 * nothing still gets its (empty) commit, so the history names every worker.
 * Callers serialise commits per worktree: they share one index.
 */
export async function commitPaths(wt: TaskWorktree, paths: readonly string[], message: string, identity: GitIdentity): Promise<string> {
  const candidates = [...new Set(paths.filter(committable))];
  if (candidates.length > 0) {
    const ignored = await inWorktree(wt, ['check-ignore', '-z', '--stdin'], { input: candidates.join('\0'), okCodes: [1] });
    const skip = new Set(ignored.stdout.split('\0').filter(Boolean));
    const add = candidates.filter((p) => !skip.has(p));
    if (add.length > 0) await inWorktree(wt, ['update-index', '--add', '--remove', '-z', '--stdin'], { input: `${add.join('\0')}\0` });
  }
  const tree = (await inWorktree(wt, ['write-tree'])).stdout.trim();
  const parent = (await inWorktree(wt, ['rev-parse', '--verify', `${wt.ref}^{commit}`])).stdout.trim();
  const commit = (await inWorktree(wt, ['commit-tree', tree, '-p', parent, '-F', '-'], { identity, input: message })).stdout.trim();
  await inWorktree(wt, ['update-ref', '-m', 'backend-orchestrator: worker commit', wt.ref, commit, parent]);
  return commit;
}

/** Removes the worktree folder and git's record of it; the branch stays. */
export async function removeWorktree(project: GitProject, dir: string): Promise<void> {
  const removed = await git(['worktree', 'remove', '--force', '--force', dir], { cwd: project.root, okCodes: [128] });
  await rm(dir, { recursive: true, force: true });
  if (removed.code !== 0) await git(['worktree', 'prune'], { cwd: project.root });
}

/** `--stat`-style summary of what the branch changed since its base, e.g. `3 files changed, 40 insertions(+)`. */
export async function diffstat(project: GitProject, base: string, tip: string): Promise<string> {
  return (await gitLine(['diff', '--shortstat', base, tip], { cwd: project.root })).trim();
}
