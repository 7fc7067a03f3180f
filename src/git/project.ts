import { constants } from 'node:fs';
import { access, realpath } from 'node:fs/promises';
import path from 'node:path';
import { git, gitLine } from './git.ts';
import { GitCommandError } from './gitCommandError.ts';
import { ProjectError } from './projectError.ts';

/** A git project the orchestrator merges into. */
export interface GitProject {
  /** Real path of the project folder (the repository's top level). */
  root: string;
  /** Real path of git's shared folder (objects, refs, worktrees): what the sandbox lets workers read. */
  commonDir: string;
  /** The project folder's own git folder (where MERGE_HEAD and rebase state live). */
  gitDir: string;
  /** The branch checked out in the project folder at start-up, e.g. `main`. */
  branch: string;
}

const exists = (p: string): Promise<boolean> => access(p).then(() => true, () => false);

/** Whether `dir` is the top level of a git repository (work tree, not bare). */
export async function isGitRepository(dir: string): Promise<boolean> {
  const real = await realpath(dir).catch(() => undefined);
  if (real === undefined) return false;
  const top = await git(['rev-parse', '--show-toplevel'], { cwd: real }).catch((error: unknown) => {
    if (!(error instanceof GitCommandError) || error.exitCode !== 128) throw error;
    // A repository git will not open for this user is still one: told as such, not taken for a plain folder.
    if (/dubious ownership/.test(error.stderr)) throw dubious(real);
    return { code: 128, stdout: '' };
  });
  return top.code === 0 && (await realpath(top.stdout.trim()).catch(() => '')) === real;
}

/**
 * Refuses a folder inside a git repository that is not its top: there no
 * isolation but `none` works as a person expects (worktrees and boxes are
 * of the whole repository, and a task folder would ignore the project), and
 * taken for a plain folder its tasks would write into the checkout with no
 * commits. The caller skips it for an explicit `--isolation none`.
 */
export async function refuseRepositorySubfolder(root: string): Promise<void> {
  const top = await git(['rev-parse', '--show-toplevel'], { cwd: root }).catch((error: unknown) => {
    if (!(error instanceof GitCommandError) || error.exitCode !== 128) throw error;
    if (/dubious ownership/.test(error.stderr)) throw dubious(root);
    return { code: 128, stdout: '' };
  });
  if (top.code !== 0) return;
  const topLevel = await realpath(top.stdout.trim());
  if (topLevel !== root) throw subfolder(root, topLevel);
}

const subfolder = (root: string, topLevel: string): ProjectError =>
  new ProjectError(`--project ${root} is inside the git repository ${topLevel}, not its top: pass --project ${topLevel} (or --isolation none to have tasks write into this folder itself, one at a time, with no commits)`);

/**
 * What a person is in the middle of in the project folder (a merge, a
 * rebase, a cherry-pick, a revert), or undefined. The orchestrator neither
 * starts nor merges while one is under way: the branch is theirs then.
 */
export async function operationInProgress(gitDir: string): Promise<string | undefined> {
  const marks: [string, string][] = [
    ['MERGE_HEAD', 'a merge'],
    ['rebase-merge', 'a rebase'],
    ['rebase-apply', 'a rebase (or git am)'],
    ['CHERRY_PICK_HEAD', 'a cherry-pick'],
    ['REVERT_HEAD', 'a revert'],
  ];
  for (const [file, what] of marks) if (await exists(path.join(gitDir, file))) return what;
  return undefined;
}

/**
 * Checks that `dir` can be worked on with worktrees: the top of a git
 * repository, on a branch, with a commit, not mid-merge or mid-rebase.
 * Throws ProjectError with what to do otherwise.
 */
export async function openGitProject(dir: string): Promise<GitProject> {
  const root = await realpath(dir).catch(() => {
    throw new ProjectError(`--project ${dir}: no such folder`);
  });
  const version = /(\d+)\.(\d+)/.exec(await gitLine(['version'], { cwd: root }));
  if (!version || Number(version[1]) * 1000 + Number(version[2]) < 2038) {
    throw new ProjectError(`--isolation worktree needs git 2.38 or later (for git merge-tree --write-tree); found ${version?.[0] ?? 'an unknown version'}: upgrade git, or use --isolation none`);
  }
  const top = await git(['rev-parse', '--show-toplevel'], { cwd: root }).catch((error: unknown) => {
    if (!(error instanceof GitCommandError) || error.exitCode !== 128) throw error;
    if (/dubious ownership/.test(error.stderr)) throw dubious(root);
    return { code: 128, stdout: '' };
  });
  if (top.code !== 0) {
    throw new ProjectError(
      `--project ${root} is not a git repository: run \`git init && git add -A && git commit -m init\` there, or use --isolation none (tasks work in the folder itself, one at a time)`,
    );
  }
  const topLevel = await realpath(top.stdout.trim());
  if (topLevel !== root) throw subfolder(root, topLevel);
  const [commonRaw, gitDirRaw] = (await gitLine(['rev-parse', '--git-common-dir', '--git-dir'], { cwd: root })).split('\n');
  const commonDir = await realpath(path.resolve(root, commonRaw ?? '.git'));
  const gitDir = await realpath(path.resolve(root, gitDirRaw ?? '.git'));
  const head = await git(['symbolic-ref', '-q', '--short', 'HEAD'], { cwd: root, okCodes: [1] });
  if (head.code !== 0) throw new ProjectError(`--project ${root} has a detached HEAD: check out the branch tasks should merge into (git switch main)`);
  const branch = head.stdout.trim();
  const hasCommit = await git(['rev-parse', '--verify', '-q', `refs/heads/${branch}`], { cwd: root, okCodes: [1] });
  if (hasCommit.code !== 0) throw new ProjectError(`--project ${root}: branch ${branch} has no commit yet: commit something first (git commit --allow-empty -m init)`);
  const busy = await operationInProgress(gitDir);
  if (busy) {
    throw new ProjectError(
      `--project ${root} is in the middle of ${busy} on ${branch}: finish it or abort it (git merge --abort, git rebase --abort) before starting; the orchestrator does not merge into a branch someone is working on`,
    );
  }
  return { root, commonDir, gitDir, branch };
}

/** git refuses a repository another user owns (safe.directory): said as such, not as "not a git repository". */
function dubious(root: string): ProjectError {
  return new ProjectError(
    `--project ${root} belongs to another user and git refuses to work in it ("dubious ownership"): run the listener as the project's owner, or trust it with \`git config --global --add safe.directory ${root}\``,
  );
}

/**
 * Checks that this process can write where tasks write: with worktrees, the
 * shared git folder (objects, branches, worktree records), the project
 * folder's own git folder (its index) and the project folder (merges update
 * its files); without, the project folder. Throws ProjectError naming the
 * folder and the fix, instead of git's errors task after task (and worktree
 * records left behind).
 */
export async function checkProjectWritable(root: string, project?: GitProject): Promise<void> {
  const places = project
    ? [root, project.gitDir, project.commonDir, path.join(project.commonDir, 'objects'), path.join(project.commonDir, 'refs', 'heads')]
    : [root];
  for (const place of places) {
    const why = await access(place, constants.W_OK).then(
      () => undefined,
      (error: unknown) => String((error as { code?: unknown }).code ?? error),
    );
    if (why === undefined || why === 'ENOENT') continue;
    const who = typeof process.getuid === 'function' ? ` (uid ${process.getuid()})` : '';
    const readOnly = why === 'EROFS' ? 'is on a read-only file system' : 'is read-only for this user';
    throw new ProjectError(
      `--project ${root}${place === root ? '' : `: ${place}`} ${readOnly}${who} (${why}), and ${project ? 'tasks commit, branch and merge there' : 'tasks write there'}: ` +
        `make the project writable by the user the listener runs as (e.g. \`chown -R $(id -u) ${root}\` or \`chmod -R u+w ${root}\`), run the listener as the project's owner, ` +
        `or use --isolation task-folder to leave the project alone`,
    );
  }
}
