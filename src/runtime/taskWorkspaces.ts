import { createHash } from 'node:crypto';
import { mkdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import type { Redis } from 'ioredis';
import type { Logger } from '../logger.ts';
import { git, type GitIdentity } from '../git/git.ts';
import { mergeIntoProject, type MergeOutcome } from '../git/merge.ts';
import type { GitProject } from '../git/project.ts';
import { commitPaths, diffstat, openWorktree, removeWorktree, type TaskWorktree } from '../git/worktree.ts';
import type { FinalResult } from '../protocol/claim.ts';
import type { Keys } from '../protocol/keys.ts';
import type { TaskGit, WorkerResult } from '../protocol/output.ts';
import { resumeFrom } from '../redis/checkpoint.ts';
import type { ProgressWriter } from '../redis/progress.ts';
import { acquireLock, withLock, type HeldLock } from '../redis/lock.ts';
import { withProject, workerCommits } from '../results/projectResult.ts';
import { taskDirName } from '../workers/taskDirName.ts';
import type { SandboxBinds } from '../workers/tools/index.ts';

/** How tasks share the project (README, "One project, many tasks"). */
export type Isolation = 'worktree' | 'none' | 'task-folder';

/** Where one task's workers work, and what the Bash sandbox must open for them. */
export interface PreparedWorkspace {
  dir: string;
  sandbox: SandboxBinds;
}

/**
 * The project side of a task, for the two isolation modes that have a
 * project: the folder its workers work in (made ready on first use), a commit
 * after each finished worker, and at publication the merge, the clean-up and
 * the project's view of the output.
 */
export interface TaskWorkspaces {
  readonly isolation: Exclude<Isolation, 'task-folder'>;
  prepare(taskId: string, claimKey: string, signal: AbortSignal): Promise<PreparedWorkspace>;
  /** After a worker succeeded: its commit on the task branch (worktree), or undefined. */
  commit(taskId: string, result: WorkerResult, description: string): Promise<string | undefined>;
  /** Before publication (and again on a retry: it is idempotent): merge, clean up, the output as the project sees it. */
  finish(result: FinalResult): Promise<FinalResult>;
  /** Deletes merged task branches older than `keepBranchesMs`. */
  sweepBranches(now?: number): Promise<string[]>;
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
  /** The git project for worktree isolation. */
  git?: GitProject;
  isolation: Exclude<Isolation, 'task-folder'>;
  /** Root of the worktrees (outside the project). */
  worktreeRoot: string;
  identity: GitIdentity;
  mergePartial: boolean;
  keepBranchesMs: number;
  lockTtlMs: number;
  /** Prefix of the task branches, e.g. `backend`. */
  branchPrefix: string;
  /** This instance's agent id: a task whose checkpoint names another owner is not merged from here. */
  agentId: string;
  /** Opens a new (empty) worktree folder to the Bash box's uid before git fills it (the `uid` process limit). */
  openToBox?: (dir: string) => Promise<void>;
}

const BASE_FIELD = 'git:base';

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

function describe(view: { git?: TaskGit; warning?: string }, branch: string): string {
  const g = view.git;
  if (!g) return view.warning ? `git: ${view.warning}` : `git: nothing committed, no branch kept`;
  if (g.merged) return `git: ${branch} merged (${g.merged.slice(0, 12)}; ${g.diffstat || 'no changes'})`;
  return `git: ${view.warning ?? `${branch} not merged`}`;
}

export async function createTaskWorkspaces(o: TaskWorkspacesOptions): Promise<TaskWorkspaces> {
  const { redis, keys, logger } = o;
  const projectHash = createHash('sha256').update(o.project).digest('hex').slice(0, 16);
  const mergeLockKey = `${keys.own}merge-lock:${projectHash}`;
  const projectLockKey = `${keys.own}project-lock:${projectHash}`;
  const mergedKey = `${keys.own}merged-branches`;
  await mkdir(o.worktreeRoot, { recursive: true });
  const worktreeRoot = await realpath(o.worktreeRoot);
  const sandboxReadOnly = o.git ? [o.git.commonDir] : [];

  const prepared = new Map<string, Promise<PreparedWorkspace & { worktree?: TaskWorktree }>>();
  const projectLocks = new Map<string, HeldLock>();
  const commitQueues = new Map<string, Promise<unknown>>();
  const descriptions = new Map<string, string>();

  const branchOf = (taskId: string) => `${o.branchPrefix}/${taskDirName(taskId)}`;
  const dirOf = (taskId: string) => path.join(worktreeRoot, taskDirName(taskId));

  async function openFor(taskId: string, claimKey: string, signal: AbortSignal): Promise<PreparedWorkspace & { worktree?: TaskWorktree }> {
    if (o.isolation === 'none') {
      const lock = await acquireLock(redis, projectLockKey, {
        ttlMs: o.lockTtlMs,
        signal,
        onLost: () => logger.warn({ task_id: taskId }, 'the project lock expired while held: another task may work in the project now'),
      });
      projectLocks.set(taskId, lock);
      return { dir: o.project, sandbox: { writable: [o.project], readOnly: [] } };
    }
    const project = o.git!;
    const checkpoint = resumeFrom(await redis.hgetall(keys.checkpoint(claimKey)));
    const recordedBase = (await redis.hget(keys.checkpoint(claimKey), BASE_FIELD)) ?? undefined;
    const recorded = Object.values(checkpoint.results).flatMap((r) => (r?.commit ? [r.commit] : []));
    const resetTo = await latest(project, recorded);
    const worktree = await openWorktree(project, { dir: dirOf(taskId), branch: branchOf(taskId), base: recordedBase, resetTo, ...(o.openToBox ? { prepareDir: o.openToBox } : {}) });
    if (recordedBase === undefined) await o.progress.save({ claimKey, taskId, fields: { [BASE_FIELD]: worktree.base } });
    logger.info({ task_id: taskId, branch: worktree.branch, worktree: worktree.dir, reset_to: resetTo ?? worktree.base }, 'task worktree ready');
    return { dir: worktree.dir, sandbox: { writable: [worktree.dir], readOnly: sandboxReadOnly }, worktree };
  }

  const prepare = (taskId: string, claimKey: string, signal: AbortSignal) => {
    let p = prepared.get(taskId);
    if (p === undefined) {
      p = openFor(taskId, claimKey, signal);
      prepared.set(taskId, p);
      // A failed preparation is tried again by the next attempt, not remembered.
      p.catch(() => prepared.get(taskId) === p && prepared.delete(taskId));
    }
    return p.then(({ dir, sandbox }) => ({ dir, sandbox }));
  };

  const commit = async (taskId: string, result: WorkerResult, description: string): Promise<string | undefined> => {
    descriptions.set(taskId, description);
    const p = prepared.get(taskId);
    if (o.isolation !== 'worktree' || p === undefined) return undefined;
    const { worktree } = await p;
    if (!worktree) return undefined;
    const deleted = Array.isArray(result.report?.files_deleted) ? (result.report.files_deleted as unknown[]).map(String) : [];
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
    const mine = previous.catch(() => undefined).then(() =>
      commitPaths(worktree, [...result.files_created, ...result.files_modified, ...deleted], message, o.identity),
    );
    commitQueues.set(taskId, mine);
    return mine;
  };

  async function gitOutcome(result: FinalResult, taskId: string): Promise<{ git?: TaskGit; warning?: string }> {
    const project = o.git!;
    const branch = branchOf(taskId);
    const ref = `refs/heads/${branch}`;
    // A preparation still under way (a task that failed while it was planned) finishes first.
    const worktree = await prepared.get(taskId)?.catch(() => undefined);
    const tipReply = await git(['rev-parse', '--verify', '-q', `${ref}^{commit}`], { cwd: project.root, okCodes: [1] });
    // The worktree goes in every case: its work is in the branch's commits, the rest is half-done.
    await removeWorktree(project, dirOf(taskId)).catch((error: unknown) => logger.warn({ err: error, task_id: taskId }, 'could not remove the task worktree'));
    if (tipReply.code !== 0) return {}; // no worker ever started: there is no branch
    const tip = tipReply.stdout.trim();
    const base =
      worktree?.worktree?.base ??
      (await redis.hget(keys.checkpoint(result.claimKey), BASE_FIELD)) ??
      (await git(['merge-base', tip, `refs/heads/${project.branch}`], { cwd: project.root })).stdout.trim();
    const commits = workerCommits(result.output);
    if (tip === base) {
      // Nothing was committed (no worker finished): the branch holds nothing worth keeping.
      await git(['update-ref', '-d', ref, tip], { cwd: project.root, okCodes: [1, 128] });
      return {};
    }
    const gitObject: TaskGit = { branch, base, commits, merged: null, conflict: null, diffstat: await diffstat(project, base, tip) };
    const outcome = result.output.outcome;
    const mergeable = outcome === 'completed' || outcome === 'completed_with_warnings' || (outcome === 'partial' && o.mergePartial);
    if (!mergeable) {
      const why = outcome === 'partial' ? 'partial results are not merged (start with --merge-partial to merge them)' : 'failed tasks are not merged';
      return { git: gitObject, warning: `${why}; the finished workers' work is kept on branch ${branch}: review it, then \`git merge ${branch}\` in ${project.root}` };
    }
    const description = descriptions.get(taskId);
    const message = `Merge task ${taskId} (${branch})${description ? `: ${firstLine(description, 200)}` : ''}\n\nTask-Id: ${taskId}\n`;
    const merged: MergeOutcome = await withLock(redis, mergeLockKey, { ttlMs: o.lockTtlMs }, () =>
      mergeIntoProject(project, { ref, message, identity: o.identity }),
    );
    if (merged.kind === 'merged' || merged.kind === 'already') {
      gitObject.merged = merged.sha;
      await markMerged(branch, tip);
      return { git: gitObject };
    }
    if (merged.kind === 'conflict') {
      gitObject.conflict = merged.files;
      return {
        git: gitObject,
        warning: `merge conflict with ${project.branch} in ${merged.files.join(', ')}: nothing was merged and the work is kept on branch ${branch}; to finish it, run \`git merge ${branch}\` in ${project.root}, resolve those files and commit`,
      };
    }
    return {
      git: gitObject,
      warning: `not merged: ${merged.reason}; ${project.branch} was left alone and the work is on branch ${branch}: commit or stash your changes, then \`git merge ${branch}\` in ${project.root}`,
    };
  }

  async function markMerged(branch: string, tip: string): Promise<void> {
    if (o.keepBranchesMs === 0) {
      await git(['update-ref', '-d', `refs/heads/${branch}`, tip], { cwd: o.git!.root, okCodes: [1, 128] });
      return;
    }
    await redis.zadd(mergedKey, Date.now(), JSON.stringify({ project: o.project, branch, tip }));
  }

  const finish = async (result: FinalResult): Promise<FinalResult> => {
    const taskId = result.taskId;
    if (taskId === undefined) return result;
    try {
      let view: { git?: TaskGit; warning?: string } = {};
      // A holder presumed dead that wakes up must not merge (or remove the worktree of) a task another instance now runs.
      const owner = await redis.hget(keys.checkpoint(result.claimKey), 'owner');
      if (owner !== null && owner !== o.agentId) return result;
      if (o.isolation === 'worktree') {
        try {
          view = await gitOutcome(result, taskId);
        } catch (error) {
          // The result is published whatever git says: the work stays on the branch.
          logger.error({ err: error, task_id: taskId }, 'merge failed');
          const message = error instanceof Error ? error.message : String(error);
          view = { warning: `the merge could not be done (${message}); the work is kept on branch ${branchOf(taskId)}` };
        }
        // Held, and written by the publication that follows, after the lines that came before it.
        o.progress.write({ claimKey: result.claimKey, taskId, lines: [describe(view, branchOf(taskId))] });
      }
      const output = withProject(result.output, { project: o.project, git: view.git, warning: view.warning });
      return { ...result, output, outcome: output.outcome };
    } finally {
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
      await redis.zrem(mergedKey, member);
    }
    if (deleted.length) logger.info({ branches: deleted }, 'deleted merged task branches');
    return deleted;
  };

  const close = async () => {
    const locks = [...projectLocks.values()];
    projectLocks.clear();
    await Promise.allSettled(locks.map((l) => l.release()));
  };

  return {
    isolation: o.isolation,
    prepare,
    commit,
    finish: async (result) => {
      try {
        return await finish(result);
      } finally {
        if (result.taskId !== undefined) {
          prepared.delete(result.taskId);
          commitQueues.delete(result.taskId);
          descriptions.delete(result.taskId);
        }
      }
    },
    sweepBranches,
    close,
  };
}
