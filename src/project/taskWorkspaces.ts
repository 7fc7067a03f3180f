import { createHash } from 'node:crypto';
import { mkdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import type { Redis } from 'ioredis';
import type { Logger } from '../logger.ts';
import { filesBetween, type CommitFiles } from '../git/commitFiles.ts';
import { git, type GitIdentity } from '../git/git.ts';
import { mergeIntoProject, recoverProjectUpdate, type MergeOutcome } from '../git/merge.ts';
import type { GitProject } from '../git/project.ts';
import { gitCredentials, worktreeGitBinds, writeSanitisedConfig } from '../git/sandboxGit.ts';
import { commitPaths, diffstat, openWorktree, releaseBranch, removeWorktree, sweepOrphanWorktrees, type CommitOutcome, type TaskWorktree } from '../git/worktree.ts';
import { bareGit, commitView, replayInto } from '../git/viewCommit.ts';
import { compareUrl } from '../git/remote.ts';
import type { FinalResult } from '../protocol/claim.ts';
import type { Keys } from '../protocol/keys.ts';
import type { TaskGit, WorkerResult } from '../protocol/output.ts';
import type { TaskRefWithId } from '../protocol/taskRef.ts';
import { resumeFrom } from '../redis/checkpoint.ts';
import type { ProgressWriter } from '../redis/progress.ts';
import { acquireLock, holderState, LockWaitAbortedError, withLock, type HeldLock } from '../redis/lock.ts';
import { StaleHolderError } from '../redis/progress.ts';
import { resend } from '../redis/retry.ts';
import { checksAllowMerge } from '../results/checks.ts';
import { withProject, workerCommits } from '../results/projectResult.ts';
import { taskDirName } from '../workers/taskDirName.ts';
import type { SandboxBinds } from '../workers/tools/index.ts';
import type { BoxOptions, StartBox, TaskBox } from '../workers/box/types.ts';
import type { LayerStack } from './layerStack.ts';
import type { RemoteProject } from './remoteProject.ts';

/** How tasks share the project (docs/projects.md). */
export type Isolation = 'box' | 'worktree' | 'none' | 'task-folder';

/** Where one task's workers work, and what the Bash sandbox must open for them. */
export interface PreparedWorkspace {
  dir: string;
  sandbox: SandboxBinds;
  /** Box isolation: the task's box, in which every tool of every worker of the task runs (`dir` is its root inside). */
  box?: TaskBox;
}

/** What box isolation needs besides the git project: the engine, the lower view, and what every box is started with. */
export interface BoxIsolation {
  start: StartBox;
  stack: LayerStack;
  /** Everything of BoxOptions but the task's own (its id, its lower view, its root). */
  options: Omit<BoxOptions, 'taskId' | 'lower' | 'root'>;
}

/**
 * The project side of a task, for the two isolation modes that have a
 * project: the folder its workers work in (made ready on first use), a commit
 * after each finished worker, and at publication the merge, the clean-up and
 * the project's view of the output.
 */
export interface TaskWorkspaces {
  readonly isolation: Exclude<Isolation, 'task-folder'>;
  /** The task's id names its worktree and branch; its key, the checkpoint its base is recorded in. */
  prepare(task: TaskRefWithId, signal: AbortSignal): Promise<PreparedWorkspace>;
  /** After a worker succeeded: its commit on the task branch and what was left out of it (worktree), or undefined. */
  commit(taskId: string, result: WorkerResult, description: string): Promise<CommitOutcome | undefined>;
  /** Before publication (and again on a retry: it is idempotent): merge, clean up, the output as the project sees it. */
  finish(result: FinalResult): Promise<FinalResult>;
  /** Deletes merged task branches older than `keepBranchesMs`. */
  sweepBranches(now?: number): Promise<string[]>;
  /** Credentials found in the project's git configuration (remote URLs, insteadOf, extraHeader): for the scrubber. */
  readonly secrets: readonly string[];
  /** Releases the locks this instance holds. */
  close(): Promise<void>;
}

export interface TaskWorkspacesOptions {
  redis: Redis;
  keys: Keys;
  logger: Logger;
  /** The task's progress: the worktree's base is saved there, the merge's line goes with the publication. */
  progress: ProgressWriter;
  /** Project folder (real path). */
  project: string;
  /** The git project for worktree and box isolation. */
  git?: GitProject;
  /** Box isolation's engine and lower view. */
  box?: BoxIsolation;
  /** With isolation `none` in a git repository: its shared git folder (bound read-only inside the writable project folder). */
  gitCommonDir?: string;
  isolation: Exclude<Isolation, 'task-folder'>;
  /** Root of the worktrees (outside the project). */
  worktreeRoot: string;
  identity: GitIdentity;
  mergePartial: boolean;
  /** Merge a task whose checks (`--verify`) still fail (`--merge-failing`); default false. */
  mergeFailing?: boolean;
  keepBranchesMs: number;
  lockTtlMs: number;
  /** Prefix of the task branches, e.g. `backend`. */
  branchPrefix: string;
  /** This instance's agent id: a task whose checkpoint names another owner is not merged from here. */
  agentId: string;
  /** Opens a new (empty) worktree folder to the Bash box's uid before git fills it (the `uid` process limit). */
  openToBox?: (dir: string) => Promise<void>;
  /** Remote mode: `git` is this instance's mirror of the remote, task branches are pushed and merges go by push. */
  remote?: RemoteProject;
  /** Remote mode: `none` pushes a finished task's branch and hands it off instead of merging it. */
  mergeMode?: 'auto' | 'none';
}

const BASE_FIELD = 'git:base';

/** Where the project appears inside every task's box: where the network's agents see it (its compose file mounts `/workspace`). */
export const BOX_ROOT = '/workspace';

const inside = (root: string, candidate: string): boolean => {
  const rel = path.relative(root, candidate);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
};

const firstLine = (s: string, max = 72): string => {
  const line = (s.split('\n').find((l) => l.trim() !== '') ?? '').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
};

/** The commit with the most ancestors among `shas`: the workers of a task commit one after another on one branch. */
async function latest(project: GitProject, shas: string[]): Promise<string | undefined> {
  let best: { sha: string; depth: number } | undefined;
  for (const sha of shas) {
    const r = await git(['rev-list', '--count', sha], { cwd: project.root, okCodes: [128] });
    if (r.code !== 0) continue; // a commit the repository no longer has: its worker runs again
    const depth = Number(r.stdout.trim());
    if (!best || depth > best.depth) best = { sha, depth };
  }
  return best?.sha;
}

/** The project's side of a finished task: its git object, what its commits changed, and what a person must do. */
type GitView = { git?: TaskGit; files?: CommitFiles; warning?: string };

/** Nothing committed: the task changed no file of the project, whatever its workers wrote before they failed. */
const NO_FILES: CommitFiles = { created: [], modified: [], deleted: [] };

function describe(view: GitView, branch: string): string {
  const g = view.git;
  if (!g) return view.warning ? `git: ${view.warning}` : `git: nothing committed, no branch kept`;
  if (g.merged) return `git: ${branch} merged (${g.merged.slice(0, 12)}; ${g.diffstat || 'no changes'})`;
  if (!view.warning && g.remote !== undefined) return `git: ${branch} pushed to ${g.remote} for review, not merged (--merge none)${g.compare_url ? `: ${g.compare_url}` : ''}`;
  return `git: ${view.warning ?? `${branch} not merged`}`;
}

export async function createTaskWorkspaces(o: TaskWorkspacesOptions): Promise<TaskWorkspaces> {
  const { redis, keys, logger } = o;
  const projectHash = createHash('sha256').update(o.project).digest('hex').slice(0, 16);
  const mergeLockKey = keys.mergeLock(projectHash);
  const projectLockKey = keys.projectLock(projectHash);
  const mergedKey = keys.mergedBranches;
  await mkdir(o.worktreeRoot, { recursive: true });
  const worktreeRoot = await realpath(o.worktreeRoot);
  // The box never sees the project's real git config (remote URLs can hold tokens): a sanitised copy of
  // ours is bound over it, and only the parts of the shared git folder git needs are bound at all.
  const commonDir = o.git?.commonDir ?? o.gitCommonDir;
  const sanitised = commonDir !== undefined ? await writeSanitisedConfig(commonDir) : undefined;
  const secrets = [...(o.git || o.gitCommonDir ? await gitCredentials(o.project) : []), ...(o.remote?.secrets ?? [])];
  const configOver: [string, string][] = sanitised && commonDir ? [[sanitised.file, path.join(commonDir, 'config')]] : [];
  // Isolation none: the project folder is writable, its git folder (when inside it) is not.
  const noneReadOnly: [string, string][] = o.gitCommonDir && inside(o.project, o.gitCommonDir) ? [[o.gitCommonDir, o.gitCommonDir]] : [];
  if (o.git) {
    // Worktrees of tasks another holder took over (and released) while this instance was down.
    const orphans = await sweepOrphanWorktrees(o.git, worktreeRoot).catch((error: unknown) => {
      logger.warn({ err: error }, 'could not look for orphaned task worktrees');
      return [];
    });
    if (orphans.length > 0) logger.info({ removed: orphans }, 'removed task worktree folders git no longer knows (tasks taken over by another holder)');
    // An update of the project folder a kill interrupted is finished (or found harmless) before any task runs.
    const project = o.git;
    // Not waited for long: a dead holder's lock lasts its TTL, and the next merge does this under it anyway.
    const recovered = await withLock(redis, mergeLockKey, { ttlMs: o.lockTtlMs, signal: AbortSignal.timeout(2000) }, () => recoverProjectUpdate(project)).catch(
      (error: unknown) => {
        if (!(error instanceof LockWaitAbortedError)) throw error;
        logger.info({ project: project.root }, "the project's merge lock is held: an interrupted update of the project folder, if any, is finished by the next merge");
        return undefined;
      },
    );
    if (recovered !== undefined) logger.warn({ project: project.root }, recovered);
  }

  type Prepared = PreparedWorkspace & { worktree?: TaskWorktree; base?: string };
  const prepared = new Map<string, Promise<Prepared>>();
  const boxes = new Map<string, TaskBox>();
  let closing = false;
  const scratch = path.join(worktreeRoot, '.scratch');
  const projectLocks = new Map<string, HeldLock>();
  const commitQueues = new Map<string, Promise<unknown>>();
  const descriptions = new Map<string, string>();

  const branchOf = (taskId: string) => `${o.branchPrefix}/${taskDirName(taskId)}`;
  const dirOf = (taskId: string) => path.join(worktreeRoot, taskDirName(taskId));

  /**
   * Box isolation: the task's branch (made at the view's commit the first
   * time, which is recorded as its base), and a box on the lower view as it
   * stands now. A resumed task's box (a crash, a takeover) is brought to the
   * newest commit the checkpoint recorded, or to its base, by replaying
   * the difference from the view's commit: what a dead worker half-wrote was
   * in the old box's layer, which died with it.
   */
  async function openBox(task: TaskRefWithId): Promise<Prepared> {
    const taskId = task.id;
    const project = o.git!;
    const { start, stack, options } = o.box!;
    // Remote mode: the mirror's branch is brought to the remote's first, and a task branch another instance pushed is fetched.
    await o.remote?.sync();
    await o.remote?.fetchTaskBranch(branchOf(taskId));
    const view = await stack.refresh().catch((error: unknown) => {
      logger.warn({ err: error, task_id: taskId }, 'could not bring the box view to the project branch: the task starts on the view as it is');
      return stack.view();
    });
    const checkpoint = resumeFrom(await resend(redis, () => redis.hgetall(keys.checkpoint(task.key))));
    const recordedBase = (await resend(redis, () => redis.hget(keys.checkpoint(task.key), BASE_FIELD))) ?? undefined;
    const recorded = Object.values(checkpoint.results).flatMap((r) => (r?.commit ? [r.commit] : []));
    const ref = `refs/heads/${branchOf(taskId)}`;
    const base = recordedBase ?? view.commit;
    const resetTo = (await latest(project, recorded)) ?? base;
    // The branch goes to the newest recorded commit: a commit a killed worker made but never recorded is dropped, as worktree mode's reset does.
    await bareGit(project, ['update-ref', '-m', 'backend-orchestrator: task branch', ref, resetTo]);
    if (recordedBase === undefined) await o.progress.save({ ref: task, fields: { [BASE_FIELD]: base } });
    const root = BOX_ROOT;
    const box = await start({ ...options, taskId, lower: view.lower, root });
    boxes.set(taskId, box);
    try {
      if (closing) throw new Error('the listener is stopping');
      const replayed = await replayInto(project, box, view.commit, resetTo);
      logger.info({ task_id: taskId, branch: branchOf(taskId), view: view.commit, layers: view.lower.length, reset_to: resetTo, replayed }, 'task box ready');
    } catch (error) {
      boxes.delete(taskId);
      await box.close().catch(() => undefined);
      throw error;
    }
    // Nothing on the host is opened for the worker: every tool runs in the box, whose root is a path of its own.
    return { dir: root, sandbox: { writable: [], readOnly: [] }, box, base };
  }

  async function openFor(task: TaskRefWithId, signal: AbortSignal): Promise<Prepared> {
    const taskId = task.id;
    if (o.isolation === 'box') return openBox(task);
    if (o.isolation === 'none') {
      const lock = await acquireLock(redis, projectLockKey, {
        ttlMs: o.lockTtlMs,
        signal,
        onLost: () => logger.warn({ task_id: taskId }, 'the project lock expired while held: another task may work in the project now'),
      });
      projectLocks.set(taskId, lock);
      return { dir: o.project, sandbox: { writable: [o.project], readOnly: [], readOnlyAt: [...noneReadOnly, ...configOver] } };
    }
    const project = o.git!;
    await o.remote?.sync();
    await o.remote?.fetchTaskBranch(branchOf(taskId));
    // Reads: sent again after a dropped connection.
    const checkpoint = resumeFrom(await resend(redis, () => redis.hgetall(keys.checkpoint(task.key))));
    const recordedBase = (await resend(redis, () => redis.hget(keys.checkpoint(task.key), BASE_FIELD))) ?? undefined;
    const recorded = Object.values(checkpoint.results).flatMap((r) => (r?.commit ? [r.commit] : []));
    const resetTo = await latest(project, recorded);
    const worktree = await openWorktree(project, { dir: dirOf(taskId), branch: branchOf(taskId), base: recordedBase, resetTo, ...(o.openToBox ? { prepareDir: o.openToBox } : {}) }).catch(async (error: unknown) => {
      // No half-made worktree stays registered: the next attempt starts again from the branch.
      await removeWorktree(project, dirOf(taskId)).catch(() => undefined);
      throw error;
    });
    if (worktree.released) {
      logger.warn(
        { task_id: taskId, branch: worktree.branch, released: worktree.released },
        "took the task's branch over from an earlier holder's worktree: git's record of it was dropped (its folder, if still there, is no longer a worktree)",
      );
    }
    if (recordedBase === undefined) await o.progress.save({ ref: task, fields: { [BASE_FIELD]: worktree.base } });
    logger.info({ task_id: taskId, branch: worktree.branch, worktree: worktree.dir, reset_to: resetTo ?? worktree.base }, 'task worktree ready');
    const readOnly = await worktreeGitBinds(project.commonDir, worktree.adminDir);
    return { dir: worktree.dir, sandbox: { writable: [worktree.dir], readOnly, readOnlyAt: configOver }, worktree };
  }

  const prepare = (task: TaskRefWithId, signal: AbortSignal) => {
    let p = prepared.get(task.id);
    if (p === undefined) {
      p = openFor(task, signal);
      prepared.set(task.id, p);
      // A failed preparation is tried again by the next attempt, not remembered.
      p.catch(() => prepared.get(task.id) === p && prepared.delete(task.id));
    }
    return p.then(({ dir, sandbox, box }) => (box ? { dir, sandbox, box } : { dir, sandbox }));
  };

  const commit = async (taskId: string, result: WorkerResult, description: string): Promise<CommitOutcome | undefined> => {
    descriptions.set(taskId, description);
    const p = prepared.get(taskId);
    if ((o.isolation !== 'worktree' && o.isolation !== 'box') || p === undefined) return undefined;
    const { worktree, box } = await p;
    if (!worktree && !box) return undefined;
    // What the tools saw Bash remove, and what the model says it removed (a walk cut short misses some):
    // commitPaths deletes only those that were tracked files and are gone, and says which it ignored.
    const listOf = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
    const deleted = [...new Set([...listOf(result.report?.files_deleted), ...listOf(result.report?.claimed_files_deleted)])];
    const message = [
      `${result.worker}: ${firstLine(result.summary) || 'no summary'}`,
      '',
      `Task: ${firstLine(description, 200)}`,
      '',
      `Task-Id: ${taskId}`,
      `Worker: ${result.worker}`,
      '',
    ].join('\n');
    // Workers of one task share the worktree's index: their commits go one after another.
    const previous = commitQueues.get(taskId) ?? Promise.resolve();
    const written = [...result.files_created, ...result.files_modified];
    const mine = previous.catch(() => undefined).then(async () => {
      const started = performance.now();
      const made = box
        ? await commitView(o.git!, box, { ref: `refs/heads/${branchOf(taskId)}`, written, deleted, message, identity: o.identity, scratch })
        : await commitPaths(worktree!, written, message, o.identity, deleted);
      logger.debug({ task_id: taskId, worker: result.worker, commit: made.commit, paths: written.length + deleted.length, ms: Math.round(performance.now() - started) }, 'worker committed');
      // Remote mode: on the remote before the checkpoint records it, so another instance taking the task over finds it there.
      if (o.remote) await o.remote.pushBranch(branchOf(taskId), made.commit);
      return made;
    });
    commitQueues.set(taskId, mine);
    return mine;
  };

  async function gitOutcome(result: FinalResult, taskId: string): Promise<GitView> {
    const project = o.git!;
    const branch = branchOf(taskId);
    const ref = `refs/heads/${branch}`;
    // A preparation still under way (a task that failed while it was planned) finishes first.
    const worktree = await prepared.get(taskId)?.catch(() => undefined);
    const tipReply = await git(['rev-parse', '--verify', '-q', `${ref}^{commit}`], { cwd: project.root, okCodes: [1] });
    if (o.isolation === 'box') {
      // Its work is in the branch's commits; the rest (what the box wrote since) is half-done and goes with it.
      await closeBox(taskId);
    } else {
      // The worktree goes in every case: its work is in the branch's commits, the rest is half-done.
      await removeWorktree(project, dirOf(taskId)).catch((error: unknown) => logger.warn({ err: error, task_id: taskId }, 'could not remove the task worktree'));
      // An earlier holder's worktree of this branch (a takeover that never reached a worker here) goes too.
      const released = await releaseBranch(project, ref).catch((error: unknown) => {
        logger.warn({ err: error, task_id: taskId }, "could not drop an earlier holder's worktree record");
        return [];
      });
      if (released.length > 0) logger.warn({ task_id: taskId, branch, released }, "dropped git's record of an earlier holder's worktree of the task branch");
    }
    if (tipReply.code !== 0) return { files: NO_FILES }; // no worker ever started: there is no branch
    const tip = tipReply.stdout.trim();
    const base =
      worktree?.worktree?.base ??
      worktree?.base ??
      (await redis.hget(keys.checkpoint(result.ref.key), BASE_FIELD)) ??
      (await git(['merge-base', tip, `refs/heads/${project.branch}`], { cwd: project.root })).stdout.trim();
    const commits = workerCommits(result.output);
    if (tip === base) {
      // Nothing was committed (no worker finished): the branch holds nothing worth keeping.
      await git(['update-ref', '-d', ref, tip], { cwd: project.root, okCodes: [1, 128] });
      return { files: NO_FILES };
    }
    const gitObject: TaskGit = { branch, base, commits, merged: null, conflict: null, diffstat: await diffstat(project, base, tip) };
    // The task's lists are what its commits changed, whether or not it is merged (unmerged, the branch holds them).
    const files = await filesBetween(project.commonDir, base, tip);
    const outcome = result.output.outcome;
    // The one decision whether the task goes into the project branch (local and remote mode alike).
    const mergeable = outcome === 'completed' || outcome === 'completed_with_warnings' || (outcome === 'partial' && o.mergePartial);
    // Failing checks hold the merge back in both modes, unless --merge-failing says otherwise.
    const checksHold =
      mergeable && !checksAllowMerge(result.output, o.mergeFailing ?? false)
        ? `not merged: checks failed (${(result.output.checks ?? []).filter((c) => !c.passed).map((c) => `\`${c.command}\``).join(', ')}); the work is kept on branch ${branch}`
        : undefined;
    const retry = 'fix it there, or start with --merge-failing to merge such results';
    if (o.remote) return remoteOutcome(o.remote, { result, taskId, branch, tip, gitObject, files, mergeable: mergeable && checksHold === undefined, checksHold, retry });
    if (checksHold !== undefined) return { git: gitObject, files, warning: `${checksHold}: ${retry}` };
    if (!mergeable) {
      // A cancel is the operator's decision: the work stays on its branch, nobody is told to merge it.
      const cancelled = outcome === 'failed' ? resumeFrom(await resend(redis, () => redis.hgetall(keys.checkpoint(result.ref.key)))).cancel : undefined;
      if (cancelled !== undefined) {
        return { git: gitObject, files, warning: `cancelled${cancelled === 'cancelled' ? '' : ` (${cancelled})`}: not merged; the finished workers' work is on branch ${branch} (\`git branch -D ${branch}\` in ${project.root} drops it)` };
      }
      const why = outcome === 'partial' ? 'partial results are not merged (start with --merge-partial to merge them)' : 'failed tasks are not merged';
      return { git: gitObject, files, warning: `${why}; the finished workers' work is kept on branch ${branch}: review it, then \`git merge ${branch}\` in ${project.root}` };
    }
    const description = descriptions.get(taskId);
    const message = `Merge task ${taskId} (${branch})${description ? `: ${firstLine(description, 200)}` : ''}\n\nTask-Id: ${taskId}\n`;
    // Decided inside the lock: the merge goes ahead only while this holder's fencing token is the
    // checkpoint's and the lock is still its own, both read in one script (holderState).
    const merged: MergeOutcome = await withLock(redis, mergeLockKey, { ttlMs: o.lockTtlMs }, async (lock) => {
      if (result.fence !== undefined) {
        const state = await holderState(redis, keys.checkpoint(result.ref.key), result.fence, lock);
        if (state === 'stale') throw new StaleHolderError(result.ref.key, result.fence);
        if (state === 'lock') return { kind: 'refused', reason: 'the merge lock expired before the merge began' } as const;
      }
      return mergeIntoProject(project, { ref, message, identity: o.identity, onRecovered: (line) => logger.warn({ task_id: taskId, project: project.root }, line) });
    });
    if (merged.kind === 'merged' || merged.kind === 'already') {
      gitObject.merged = merged.sha;
      await markMerged(branch, tip);
      // The next tasks' boxes see this merge: one thin layer, made in the background (a box already open keeps its view).
      if (merged.kind === 'merged' && o.box) {
        o.box.stack.refresh().catch((error: unknown) => logger.warn({ err: error, task_id: taskId }, 'could not add the merge to the box view: the next task tries again'));
      }
      return { git: gitObject, files };
    }
    if (merged.kind === 'conflict') {
      gitObject.conflict = merged.files;
      return {
        git: gitObject,
        files,
        warning: `merge conflict with ${project.branch} in ${merged.files.join(', ')}: nothing was merged and the work is kept on branch ${branch}; to finish it, run \`git merge ${branch}\` in ${project.root}, resolve those files and commit`,
      };
    }
    return {
      git: gitObject,
      files,
      warning: `not merged: ${merged.reason}; ${project.branch} was left alone and the work is on branch ${branch}: commit or stash your changes, then \`git merge ${branch}\` in ${project.root}`,
    };
  }

  /**
   * Remote mode's publication: the task branch goes to the remote (or stays
   * in the mirror while it does not answer, and the result says so); a
   * mergeable task is merged by push unless --merge none hands it off.
   */
  async function remoteOutcome(
    remote: RemoteProject,
    a: { result: FinalResult; taskId: string; branch: string; tip: string; gitObject: TaskGit; files: CommitFiles; mergeable: boolean; checksHold: string | undefined; retry: string },
  ): Promise<GitView> {
    const { result, taskId, branch, tip, gitObject, files } = a;
    const pushed = await remote.pushBranch(branch, tip);
    gitObject.remote = remote.remote.shown;
    gitObject.pushed = pushed === 'pushed';
    const where = `${remote.remote.shown}`;
    const kept = (): string => {
      gitObject.kept_in = { mirror: remote.mirror.root, instance: o.agentId };
      return `the remote did not answer, so branch ${branch} is only in ${o.agentId}'s mirror ${remote.mirror.root} for now; it is pushed when the remote answers again`;
    };
    if (pushed === 'held') {
      const note = kept();
      if (!a.mergeable) return { git: gitObject, files, warning: `not merged (${result.output.outcome}); ${note}` };
      return { git: gitObject, files, warning: `not merged: ${note}; then merge ${branch} into ${remote.branch} on ${where}` };
    }
    if (pushed === 'rejected') {
      return { git: gitObject, files, warning: `not merged: ${where} refused branch ${branch} (another holder moved it since); this instance's commits are in its mirror ${remote.mirror.root}` };
    }
    if (a.checksHold !== undefined) return { git: gitObject, files, warning: `${a.checksHold} of ${where}: ${a.retry}` };
    if (!a.mergeable) {
      const cancelled = result.output.outcome === 'failed' ? resumeFrom(await resend(redis, () => redis.hgetall(keys.checkpoint(result.ref.key)))).cancel : undefined;
      if (cancelled !== undefined) return { git: gitObject, files, warning: `cancelled${cancelled === 'cancelled' ? '' : ` (${cancelled})`}: not merged; the finished workers' work is on branch ${branch} of ${where}` };
      const why = result.output.outcome === 'partial' ? 'partial results are not merged (start with --merge-partial to merge them)' : 'failed tasks are not merged';
      return { git: gitObject, files, warning: `${why}; the finished workers' work is on branch ${branch} of ${where}: review it, then merge it into ${remote.branch}` };
    }
    if (o.mergeMode === 'none') {
      // Handed off: a person reviews and merges; nothing is merged here, and that is no warning.
      const url = compareUrl(remote.remote.url, remote.branch, branch);
      if (url !== undefined) gitObject.compare_url = url;
      return { git: gitObject, files };
    }
    // No lock: the push's compare-and-swap is the guard; a holder presumed dead that wakes up is stopped here.
    if (result.fence !== undefined && (await holderState(redis, keys.checkpoint(result.ref.key), result.fence)) === 'stale') {
      throw new StaleHolderError(result.ref.key, result.fence);
    }
    const description = descriptions.get(taskId);
    const message = `Merge task ${taskId} (${branch})${description ? `: ${firstLine(description, 200)}` : ''}\n\nTask-Id: ${taskId}\n`;
    const merged = await remote.merge(tip, message);
    if ('retries' in merged && merged.retries > 0) gitObject.merge_retries = merged.retries;
    if (merged.kind === 'merged' || merged.kind === 'already') {
      gitObject.merged = merged.sha;
      await markMerged(branch, tip);
      if (merged.kind === 'merged' && o.box) {
        o.box.stack.refresh().catch((error: unknown) => logger.warn({ err: error, task_id: taskId }, 'could not add the merge to the box view: the next task tries again'));
      }
      return { git: gitObject, files };
    }
    if (merged.kind === 'conflict') {
      gitObject.conflict = merged.files;
      return {
        git: gitObject,
        files,
        warning: `merge conflict with ${remote.branch} of ${where} in ${merged.files.join(', ')}: nothing was merged and the work is kept on branch ${branch} there; to finish it, fetch both, \`git merge ${branch}\` on ${remote.branch}, resolve those files, commit and push`,
      };
    }
    if (merged.kind === 'unreachable') {
      gitObject.kept_in = { mirror: remote.mirror.root, instance: o.agentId };
      return { git: gitObject, files, warning: `not merged: ${where} did not answer (${merged.why}); branch ${branch} was pushed before, merge it into ${remote.branch} there` };
    }
    return { git: gitObject, files, warning: `not merged: ${merged.reason}; the work is on branch ${branch} of ${where}` };
  }

  async function markMerged(branch: string, tip: string): Promise<void> {
    if (o.keepBranchesMs === 0) {
      await git(['update-ref', '-d', `refs/heads/${branch}`, tip], { cwd: o.git!.root, okCodes: [1, 128] });
      await o.remote?.deleteBranch(branch, tip).catch((error: unknown) => logger.warn({ err: error, branch }, 'could not delete the merged task branch on the remote'));
      return;
    }
    const member = JSON.stringify({ project: o.project, branch, tip });
    const at = Date.now();
    await resend(redis, () => redis.zadd(mergedKey, at, member)); // the same member and score: safe to send twice
  }

  const finish = async (result: FinalResult): Promise<FinalResult> => {
    const taskId = result.ref.id;
    if (taskId === undefined) return result;
    try {
      let view: GitView = {};
      // A holder presumed dead that wakes up must not merge (or remove the worktree of) a task another
      // instance now runs, or has published: its fencing token is no longer the checkpoint's.
      if (result.fence !== undefined) {
        if ((await holderState(redis, keys.checkpoint(result.ref.key), result.fence)) === 'stale') {
          logger.warn({ task_id: taskId, fence: result.fence }, 'stale holder: another instance holds or published this task; not merged from here');
          return result;
        }
      } else {
        const owner = await redis.hget(keys.checkpoint(result.ref.key), 'owner');
        if (owner !== null && owner !== o.agentId) return result;
      }
      if (o.isolation === 'worktree' || o.isolation === 'box') {
        try {
          view = await gitOutcome(result, taskId);
        } catch (error) {
          if (error instanceof StaleHolderError) {
            logger.warn({ task_id: taskId, fence: result.fence }, 'stale holder: another instance took this task over before the merge; not merged from here');
            return result;
          }
          // The result is published whatever git says: the work stays on the branch.
          logger.error({ err: error, task_id: taskId }, 'merge failed');
          const message = error instanceof Error ? error.message : String(error);
          view = { warning: `the merge could not be done (${message}); the work is kept on branch ${branchOf(taskId)}` };
        }
        // Held, and written by the publication that follows, after the lines that came before it.
        o.progress.write({ ref: result.ref, lines: [describe(view, branchOf(taskId))] });
      }
      const output = withProject(result.output, { project: o.project, git: view.git, files: view.files, warning: view.warning });
      return { ...result, output, outcome: output.outcome };
    } finally {
      // The box goes once the result is settled, published or not (a stale holder's too).
      await closeBox(taskId);
      // The project's files are done with once the result is settled, published or not.
      const lock = projectLocks.get(taskId);
      projectLocks.delete(taskId);
      await lock?.release().catch((error: unknown) => logger.warn({ err: error, task_id: taskId }, 'could not release the project lock'));
    }
  };

  const sweepBranches = async (now = Date.now()): Promise<string[]> => {
    if (!o.git) return [];
    const due = await redis.zrangebyscore(mergedKey, '-inf', now - o.keepBranchesMs);
    const deleted: string[] = [];
    for (const member of due) {
      let entry: { project?: unknown; branch?: unknown; tip?: unknown };
      try {
        entry = JSON.parse(member) as typeof entry;
      } catch {
        await redis.zrem(mergedKey, member);
        continue;
      }
      if (entry.project !== o.project || typeof entry.branch !== 'string' || typeof entry.tip !== 'string') continue;
      // Only while it still points where it was merged: a branch that got new commits since is someone's work.
      const r = await git(['update-ref', '-d', `refs/heads/${entry.branch}`, entry.tip], { cwd: o.git.root, okCodes: [1, 128] });
      if (r.code === 0) deleted.push(entry.branch);
      await o.remote?.deleteBranch(entry.branch, entry.tip).catch((error: unknown) => logger.warn({ err: error, branch: entry.branch }, 'could not delete the merged task branch on the remote'));
      await redis.zrem(mergedKey, member);
    }
    if (deleted.length) logger.info({ branches: deleted }, 'deleted merged task branches');
    return deleted;
  };

  async function closeBox(taskId: string): Promise<void> {
    const box = boxes.get(taskId);
    boxes.delete(taskId);
    await box?.close().catch((error: unknown) => logger.warn({ err: error, task_id: taskId }, 'could not close the task box'));
  }

  const close = async () => {
    // No box outlives the listener: a task still running is resumed from its commits by the next holder.
    closing = true;
    await Promise.allSettled([...boxes.keys()].map((id) => closeBox(id)));
    await o.box?.stack.close().catch((error: unknown) => logger.warn({ err: error }, 'could not remove the box view'));
    const locks = [...projectLocks.values()];
    projectLocks.clear();
    await Promise.allSettled(locks.map((l) => l.release()));
    await sanitised?.remove().catch(() => undefined);
    await o.remote?.close();
  };

  return {
    isolation: o.isolation,
    prepare,
    commit,
    finish: async (result) => {
      try {
        return await finish(result);
      } finally {
        const taskId = result.ref.id;
        if (taskId !== undefined) {
          prepared.delete(taskId);
          commitQueues.delete(taskId);
          descriptions.delete(taskId);
        }
      }
    },
    sweepBranches,
    secrets,
    close,
  };
}
