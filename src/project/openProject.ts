import { realpath } from 'node:fs/promises';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { type Config } from '../config.ts';
import { ConfigError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { gitLine } from '../git/git.ts';
import { checkProjectWritable, isGitRepository, openGitProject, operationInProgress, refuseRepositorySubfolder } from '../git/project.ts';
import { ProjectError } from '../git/projectError.ts';
import type { Keys } from '../protocol/keys.ts';
import type { ProgressWriter } from '../redis/progress.ts';
import { createTaskWorkspaces, type TaskWorkspaces } from './taskWorkspaces.ts';

const inside = (root: string, candidate: string): boolean => {
  const rel = path.relative(root, candidate);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
};

/**
 * The project side of the listener from the config: undefined without
 * --project (or with --isolation task-folder), tasks then work in their own
 * folders as before. Throws ProjectError (start-up stops with its message)
 * when the project cannot be used as asked.
 */
export async function openTaskWorkspaces(
  config: Config,
  deps: { redis: Redis; keys: Keys; logger: Logger; progress: ProgressWriter; openToBox?: (dir: string) => Promise<void> },
): Promise<TaskWorkspaces | undefined> {
  if (config.project === undefined) {
    if (config.isolation === 'worktree' || config.isolation === 'none') {
      throw new ConfigError(`--isolation ${config.isolation} needs --project <dir> (env PROJECT_DIR): the shared codebase tasks work on`);
    }
    return undefined;
  }
  const root = await realpath(config.project).catch(() => {
    throw new ProjectError(`--project ${config.project}: no such folder`);
  });
  // Whatever the isolation (box and worktree included), but an explicit none: one check, before any is chosen.
  if (config.isolation !== 'none') await refuseRepositorySubfolder(root);
  const isGit = await isGitRepository(root);
  const isolation = config.isolation ?? (isGit ? 'worktree' : 'none');
  if (isolation === 'task-folder') return undefined;
  const common = {
    ...deps,
    project: root,
    isolation,
    worktreeRoot: config.workspace,
    identity: { name: config.gitAuthorName, email: config.gitAuthorEmail },
    mergePartial: config.mergePartial,
    keepBranchesMs: config.keepBranchesDays * 86_400_000,
    lockTtlMs: config.lockTtlMs,
    branchPrefix: config.domain,
    agentId: config.agentId,
  };
  if (isolation === 'none') {
    if (isGit) {
      const [gitDirRaw, commonRaw] = (await gitLine(['rev-parse', '--git-dir', '--git-common-dir'], { cwd: root })).split('\n');
      const gitDir = path.resolve(root, gitDirRaw ?? '.git');
      const busy = await operationInProgress(gitDir);
      if (busy) throw new ProjectError(`--project ${root} is in the middle of ${busy}: finish it or abort it (git merge --abort, git rebase --abort) before starting`);
      return createTaskWorkspaces({ ...common, gitCommonDir: await realpath(path.resolve(root, commonRaw ?? '.git')) });
    }
    await checkProjectWritable(root);
    return createTaskWorkspaces(common);
  }
  const project = await openGitProject(root);
  await checkProjectWritable(root, project);
  const worktreeRoot = path.resolve(config.workspace);
  const realWorktreeRoot = await realpath(worktreeRoot).catch(() => worktreeRoot);
  if (inside(project.root, realWorktreeRoot)) {
    throw new ProjectError(`--workspace ${worktreeRoot} is inside --project ${project.root}: task worktrees must live outside the project (pass --workspace elsewhere, or leave it out)`);
  }
  deps.logger.info({ project: project.root, branch: project.branch, worktrees: worktreeRoot }, 'tasks work in git worktrees of the project and merge into its branch');
  return createTaskWorkspaces({ ...common, git: project });
}
