import type { Redis } from 'ioredis';
import type { Keys } from '../protocol/keys.ts';

export interface ResultRecord {
  task_id?: string;
  status?: string;
  outcome?: string;
  started_at?: string;
  completed_at?: string;
  output?: string;
  error?: string;
}

export interface WaitOptions {
  timeoutMs: number;
  /** Called with each new progress line of `results:{id}:logs`. */
  onLog?: (line: string) => void;
  pollMs?: number;
  signal?: AbortSignal;
}

const FINAL = new Set(['completed', 'failed']);

/**
 * Waits for a final status the way a peer waiter does (it stops only on
 * `completed` or `failed`), following the progress log meanwhile. Polls, so a
 * publish that happened before the wait began is not missed.
 * Returns undefined on timeout.
 */
export async function waitForResult(redis: Redis, keys: Keys, taskId: string, o: WaitOptions): Promise<ResultRecord | undefined> {
  const deadline = Date.now() + o.timeoutMs;
  const pollMs = o.pollMs ?? 100;
  let seen = 0;
  for (;;) {
    const [logs, record] = await Promise.all([
      o.onLog ? redis.lrange(keys.resultLogs(taskId), seen, -1) : Promise.resolve([]),
      redis.hgetall(keys.result(taskId)) as Promise<ResultRecord>,
    ]);
    seen += logs.length;
    for (const line of logs) o.onLog?.(line);
    if (record.status && FINAL.has(record.status)) return record;
    if (Date.now() >= deadline || o.signal?.aborted) return undefined;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
