import { access, realpath } from 'node:fs/promises';
import path from 'node:path';
import { git, gitLine } from './git.ts';
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
  const top = await git(['rev-parse', '--show-toplevel'], { cwd: real, okCodes: [128] });
  return top.code === 0 && (await realpath(top.stdout.trim()).catch(() => '')) === real;
}

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
  const top = await git(['rev-parse', '--show-toplevel'], { cwd: root, okCodes: [128] });
  if (top.code !== 0) {
    throw new ProjectError(
      `--project ${root} is not a git repository: run \`git init && git add -A && git commit -m init\` there, or use --isolation none (tasks work in the folder itself, one at a time)`,
    );
  }
  const topLevel = await realpath(top.stdout.trim());
  if (topLevel !== root) throw new ProjectError(`--project ${root} is inside the git repository ${topLevel}, not its top: pass --project ${topLevel}`);
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
