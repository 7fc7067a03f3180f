import { mkdir, realpath } from 'node:fs/promises';
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
import type { BoxOptions, StartBox } from '../workers/box/types.ts';
import { isRemoteUrl, shownUrl } from '../git/remote.ts';
import { openLayerStack, type LayerStack } from './layerStack.ts';
import { isBareRepository, openRemoteProject } from './remoteProject.ts';
import { createTaskWorkspaces, type TaskWorkspaces } from './taskWorkspaces.ts';

/** The box engine (src/workers/box): how to start a task's box, and whether this kernel allows one (undefined) or why not. */
export interface BoxEngine {
  start: StartBox;
  probe(): Promise<string | undefined>;
}

/** Folder of box mode's layer stacks, under the workspace. */
export const layersOf = (workspace: string): string => path.join(workspace, '.layers');

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
  deps: {
    redis: Redis;
    keys: Keys;
    logger: Logger;
    progress: ProgressWriter;
    openToBox?: (dir: string) => Promise<void>;
    /** Box isolation: the engine, and what every box is started with besides its task's own. */
    box?: { engine: BoxEngine | undefined; options: Omit<BoxOptions, 'taskId' | 'lower' | 'root'> };
  },
): Promise<TaskWorkspaces | undefined> {
  if (config.project === undefined) {
    if (config.isolation === 'box' || config.isolation === 'worktree' || config.isolation === 'none') {
      throw new ConfigError(`--isolation ${config.isolation} needs --project <dir> (env PROJECT_DIR): the shared codebase tasks work on`);
    }
    return undefined;
  }
  const remote = isRemoteUrl(config.project) || (await isBareRepository(config.project));
  if (remote) return openRemoteWorkspaces({ ...config, project: config.project }, deps);
  if (config.merge === 'none' || config.projectBranch !== undefined || config.projectTokenEnv !== undefined) {
    const flag = config.merge === 'none' ? '--merge none' : config.projectBranch !== undefined ? '--project-branch' : '--project-token-env';
    throw new ConfigError(`${flag} is for a project that is a git remote (a URL or a bare repository), and --project ${config.project} is a folder: leave it out, or pass the remote's URL`);
  }
  const root = await realpath(config.project).catch(() => {
    throw new ProjectError(`--project ${config.project}: no such folder`);
  });
  // Whatever the isolation (box and worktree included), but an explicit none: one check, before any is chosen.
  if (config.isolation !== 'none') await refuseRepositorySubfolder(root);
  const isGit = await isGitRepository(root);
  const engine = deps.box?.engine;
  // A project that cannot be used (mid-merge, detached) is refused before a box is tried.
  if (isGit && (config.isolation === undefined || config.isolation === 'box')) await openGitProject(root);
  // Box by default for a git project, where the kernel allows it; worktrees otherwise, and start-up says why.
  const whyNoBox = isGit && (config.isolation === undefined || config.isolation === 'box') ? (engine ? await engine.probe() : 'this build has no box engine') : undefined;
  if (config.isolation === 'box' && !isGit) {
    throw new ProjectError(`--isolation box needs a git project: ${root} is not a git repository (run \`git init && git add -A && git commit -m init\` there, or use --isolation none)`);
  }
  if (config.isolation === 'box' && whyNoBox !== undefined) {
    throw new ProjectError(`--isolation box: this kernel allows no task box (${whyNoBox}); use --isolation worktree, or leave --isolation out to fall back to it`);
  }
  const isolation = config.isolation ?? (isGit ? (whyNoBox === undefined ? 'box' : 'worktree') : 'none');
  if (config.isolation === undefined && isGit && whyNoBox !== undefined) {
    deps.logger.warn({ reason: whyNoBox }, `no task boxes here (${whyNoBox}): tasks work in git worktrees instead (--isolation worktree), one full checkout each, without the project's installed files`);
  }
  if (isolation === 'task-folder') return undefined;
  const { box: _box, ...rest } = deps;
  const common = {
    ...rest,
    project: root,
    isolation,
    worktreeRoot: config.workspace,
    identity: { name: config.gitAuthorName, email: config.gitAuthorEmail },
    mergePartial: config.mergePartial,
    mergeFailing: config.mergeFailing,
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
  if (isolation === 'box') {
    const stack = await openLayerStack({ project, root: layersOf(realWorktreeRoot), exclude: config.boxSnapshotExclude, logger: deps.logger });
    deps.logger.info(
      { project: project.root, branch: project.branch, commit: stack.view().commit, snapshot: stack.snapshot },
      `tasks work in boxes over a copy-on-write view of the project (a ${stack.snapshot.method === 'hardlink' ? 'hard-linked' : 'copied'} snapshot, ${stack.snapshot.excluded} secret-looking file(s) left out) and merge into its branch`,
    );
    return createTaskWorkspaces({ ...common, git: project, box: { start: engine!.start, stack, options: deps.box!.options } }).catch(async (error: unknown) => {
      await stack.close().catch(() => undefined);
      throw error;
    });
  }
  deps.logger.info({ project: project.root, branch: project.branch, worktrees: worktreeRoot }, 'tasks work in git worktrees of the project and merge into its branch');
  return createTaskWorkspaces({ ...common, git: project });
}

type OpenDeps = Parameters<typeof openTaskWorkspaces>[1];

/**
 * Remote mode: the project is a git remote; this instance works from its
 * own mirror of it under the workspace (boxes or worktrees, as in local
 * mode), pushes task branches and merges by push (docs/projects.md, "A git
 * remote as the project").
 */
async function openRemoteWorkspaces(config: Config & { project: string }, deps: OpenDeps): Promise<TaskWorkspaces> {
  if (config.isolation === 'none' || config.isolation === 'task-folder') {
    throw new ProjectError(`--isolation ${config.isolation} does not work on a remote project (${shownUrl(config.project)}): tasks work in boxes or worktrees of this instance's mirror of it; leave --isolation out or pass box or worktree`);
  }
  const engine = deps.box?.engine;
  const whyNoBox = config.isolation === 'worktree' ? undefined : engine ? await engine.probe() : 'this build has no box engine';
  if (config.isolation === 'box' && whyNoBox !== undefined) {
    throw new ProjectError(`--isolation box: this kernel allows no task box (${whyNoBox}); use --isolation worktree, or leave --isolation out to fall back to it`);
  }
  const isolation = config.isolation ?? (whyNoBox === undefined ? 'box' : 'worktree');
  if (config.isolation === undefined && whyNoBox !== undefined) {
    deps.logger.warn({ reason: whyNoBox }, `no task boxes here (${whyNoBox}): tasks work in git worktrees of the mirror instead (--isolation worktree)`);
  }
  await mkdir(config.workspace, { recursive: true });
  const workspace = await realpath(config.workspace);
  const identity = { name: config.gitAuthorName, email: config.gitAuthorEmail };
  const remote = await openRemoteProject({ url: config.project, token: config.projectToken, branch: config.projectBranch, workspace, identity, logger: deps.logger });
  const { box: _box, ...rest } = deps;
  const common = {
    ...rest,
    project: remote.mirror.root,
    isolation,
    worktreeRoot: workspace,
    identity,
    mergePartial: config.mergePartial,
    keepBranchesMs: config.keepBranchesDays * 86_400_000,
    lockTtlMs: config.lockTtlMs,
    branchPrefix: config.domain,
    agentId: config.agentId,
    git: remote.mirror,
    remote,
    mergeMode: config.merge,
  };
  let stack: LayerStack | undefined;
  try {
    if (isolation === 'box') {
      stack = await openLayerStack({ project: remote.mirror, root: layersOf(workspace), exclude: config.boxSnapshotExclude, logger: deps.logger });
      return await createTaskWorkspaces({ ...common, box: { start: engine!.start, stack, options: deps.box!.options } });
    }
    return await createTaskWorkspaces(common);
  } catch (error) {
    await stack?.close().catch(() => undefined);
    await remote.close();
    throw error;
  }
}
