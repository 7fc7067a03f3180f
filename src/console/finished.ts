import type { Redis } from 'ioredis';
import type { Keys } from '../protocol/keys.ts';
import { FINISHED_STATES, readIndexed, type FinishedState } from '../redis/taskIndex.ts';

/** A finished task as the overview lists it. */
export interface FinishedView {
  taskId: string;
  state: FinishedState;
  outcome: string;
  description: string | undefined;
  error: string | undefined;
  at: number;
}

export interface FinishedSummary {
  windowMinutes: number;
  /** Published in the window, by state: the cards. */
  completed: number;
  /** Failed and partial: what the failures table lists, so the two agree. */
  failed: number;
  cancelled: number;
  /** The newest published tasks, whenever they were published. */
  recent: FinishedView[];
  /** Every failed or partial task of the window (up to FAILURES_SHOWN), newest first. */
  failures: FinishedView[];
}

const WINDOW_MS = 15 * 60_000;
const RECENT = 20;
const FAILURES_SHOWN = 50;

async function newest(redis: Redis, keys: Keys, states: readonly FinishedState[], since: number, count: number): Promise<FinishedView[]> {
  const p = redis.pipeline();
  for (const s of states) p.zrevrangebyscore(keys.tasksFinished(s), '+inf', since, 'WITHSCORES', 'LIMIT', 0, count);
  const replies = ((await p.exec()) ?? []).map(([, v]) => (v as string[] | null) ?? []);
  const found = replies
    .flatMap((flat, i) => Array.from({ length: flat.length / 2 }, (_, j) => ({ taskId: flat[2 * j]!, at: Number(flat[2 * j + 1]), state: states[i]! })))
    .sort((a, b) => b.at - a.at)
    .slice(0, count);
  const rows = await readIndexed(redis, keys, found.map((f) => f.taskId));
  return found.map((f, i) => ({ ...f, outcome: rows[i]?.outcome ?? f.state, description: rows[i]?.description, error: rows[i]?.error }));
}

/**
 * The overview's finished tasks, read from the tasks index every instance
 * writes as it publishes (src/redis/taskIndex.ts): counts over the last
 * minutes, the newest few, and the failures of the same window, so the
 * count and the list agree, and nothing depends on when the console started.
 */
export async function readFinished(redis: Redis, keys: Keys, now: number): Promise<FinishedSummary> {
  const since = now - WINDOW_MS;
  const p = redis.pipeline();
  for (const s of FINISHED_STATES) p.zcount(keys.tasksFinished(s), since, '+inf');
  const counts = Object.fromEntries(((await p.exec()) ?? []).map(([, v], i) => [FINISHED_STATES[i]!, Number(v) || 0])) as Record<FinishedState, number>;
  const [recent, failures] = await Promise.all([newest(redis, keys, FINISHED_STATES, 0, RECENT), newest(redis, keys, ['failed', 'partial'], since, FAILURES_SHOWN)]);
  return {
    windowMinutes: WINDOW_MS / 60_000,
    completed: counts.completed,
    failed: counts.failed + counts.partial,
    cancelled: counts.cancelled,
    recent,
    failures,
  };
}
