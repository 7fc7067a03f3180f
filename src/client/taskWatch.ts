import type { Redis } from 'ioredis';
import type { CheckResult } from '../protocol/checks.ts';
import type { Keys } from '../protocol/keys.ts';
import type { TaskOutput } from '../protocol/output.ts';
import { parseTaskMessage } from '../protocol/task.ts';
import { taskRefOf } from '../protocol/taskRef.ts';
import { checksInCheckpoint, checksOf } from './checks.ts';
import { taskView, type TaskView } from './overview.ts';

/** What `watch <task-id>` shows of one task, read from Redis (any instance may hold it). */
export interface TaskWatch {
  taskId: string;
  /** queued: on the pending list; running: held (active list); finished: its result is final; unknown: Redis holds nothing of it. */
  where: 'queued' | 'running' | 'finished' | 'unknown';
  description: string | undefined;
  /** While it runs: its state and workers, as `watch` shows them. */
  running: TaskView | undefined;
  /** Once finished: status (completed or failed), outcome, error, completed_at. */
  result: { status: string; outcome: string | undefined; error: string | undefined; completedAt: string | undefined } | undefined;
  /** Its checks (`--verify`): the checkpoint's while it runs, `output.checks` once finished; empty when none ran. */
  checks: CheckResult[];
  /** The last lines of its progress log (`results:{id}:logs`), oldest first. */
  log: string[];
  at: number;
}

const FINAL = new Set(['completed', 'failed']);

/** The raw message of `taskId` on a list, or undefined. */
async function findOn(redis: Redis, list: string, taskId: string): Promise<Buffer | undefined> {
  for (const raw of await redis.lrangeBuffer(list, 0, -1)) {
    if (taskRefOf(raw, parseTaskMessage(raw.toString('utf8'))).key === taskId) return raw;
  }
  return undefined;
}

/** One task's state, result and last `logLines` progress lines. `taskId` is a whole id (see resolveTaskId). */
export async function readTaskWatch(redis: Redis, keys: Keys, taskId: string, logLines: number, now = Date.now()): Promise<TaskWatch> {
  const [record, log, checkpoint] = await Promise.all([
    redis.hgetall(keys.result(taskId)),
    redis.lrange(keys.resultLogs(taskId), -Math.max(1, logLines), -1),
    redis.hgetall(keys.checkpoint(taskId)),
  ]);
  const base = { taskId, log, at: now, checks: checksInCheckpoint(checkpoint) };
  if (record.status !== undefined && FINAL.has(record.status)) {
    const output = record.output ? (JSON.parse(record.output) as Partial<TaskOutput>) : undefined;
    return {
      ...base,
      checks: checksOf(output?.checks),
      where: 'finished',
      description: undefined,
      running: undefined,
      result: { status: record.status, outcome: record.outcome ?? output?.outcome, error: record.error, completedAt: record.completed_at },
    };
  }
  const active = await findOn(redis, keys.active, taskId);
  if (active) {
    const running = taskView(active, checkpoint, now);
    return { ...base, where: 'running', description: running.description, running, result: undefined };
  }
  const pending = await findOn(redis, keys.pending, taskId);
  if (pending) {
    const parsed = parseTaskMessage(pending.toString('utf8'));
    return { ...base, where: 'queued', description: parsed.ok ? parsed.task.payload.description : undefined, running: undefined, result: undefined };
  }
  // A record or log without a final status: between the claim and the publication, or a producer's `pending` record.
  const seen = Object.keys(record).length + log.length + Object.keys(checkpoint).length > 0;
  return { ...base, where: seen ? 'running' : 'unknown', description: undefined, running: undefined, result: undefined };
}
