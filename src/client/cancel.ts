import type { Redis } from 'ioredis';
import type { ControlMessage } from '../protocol/control.ts';
import type { Keys } from '../protocol/keys.ts';
import { parseTaskMessage } from '../protocol/task.ts';
import { taskRefOf } from '../protocol/taskRef.ts';
import { aggregate } from '../results/aggregate.ts';
import { publishResult } from '../redis/results.ts';

/** A task whose result is already published: what its `results:{id}` record says. */
export interface AlreadyFinished {
  finished: { status: string; outcome: string | undefined; completedAt: string | undefined };
}

export type CancelOutcome = 'queued' | 'running' | 'unknown' | AlreadyFinished;

/** The published status of a task (completed or failed) from its results record; undefined while it is pending or unknown. */
async function finishedOf(redis: Redis, keys: Keys, taskId: string): Promise<AlreadyFinished | undefined> {
  const [status, outcome, completedAt] = await redis.hmget(keys.result(taskId), 'status', 'outcome', 'completed_at');
  if (status !== 'completed' && status !== 'failed') return undefined;
  return { finished: { status, outcome: outcome ?? undefined, completedAt: completedAt ?? undefined } };
}

/**
 * Cancels a task wherever it is. Queued: removed from the pending list and
 * published `failed` at once. Running: the reason is written into its
 * checkpoint (so a holder that takes it over later sees it too) and every
 * listener of the domain is told on the control channel; the holder stops the
 * task's workers and publishes `failed` with the reason. Neither, with a
 * published result: what that result says (nothing is changed).
 */
export async function cancelTask(redis: Redis, keys: Keys, agentId: string, taskId: string, reason = 'cancelled'): Promise<CancelOutcome> {
  // Buffers: LREM must match the exact bytes, which need not be UTF-8.
  for (const raw of await redis.lrangeBuffer(keys.pending, 0, -1)) {
    const parsed = parseTaskMessage(raw.toString('utf8'));
    const ref = taskRefOf(raw, parsed);
    if (ref.id !== taskId) continue;
    if ((await redis.lrem(keys.pending, 1, raw)) === 0) continue; // claimed meanwhile: cancel it as running
    const now = Date.now();
    const output = aggregate({
      taskId,
      plan: undefined,
      steps: [],
      failure: reason,
      cutShort: undefined,
      workspace: undefined,
      startedAt: now,
      finishedAt: now,
    });
    await publishResult(
      { redis, keys, agentId, owner: undefined, graceMs: 2000, deadLetterLimit: 1, cancelled: true },
      { raw, ref, outcome: 'failed', output, error: reason, deadLetter: undefined },
    );
    return 'queued';
  }
  const checkpoint = keys.checkpoint(taskId);
  // Published and finished: the checkpoint is gone and the result record says so.
  if ((await redis.hexists(checkpoint, 'owner')) === 0) return (await finishedOf(redis, keys, taskId)) ?? 'unknown';
  const message: ControlMessage = { type: 'cancel', task_id: taskId, reason };
  await redis.multi().hset(checkpoint, 'cancel', reason).publish(keys.control, JSON.stringify(message)).exec();
  return 'running';
}
