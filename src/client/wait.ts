import type { Redis } from 'ioredis';
import { z } from 'zod';
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
  /** How often the result hash is read, in case the channel message was missed (default 2000). */
  pollMs?: number;
  /** How often the progress log is read when `onLog` is given (default 500). */
  logPollMs?: number;
  signal?: AbortSignal;
}

const FINAL = new Set(['completed', 'failed']);

/** What the publisher sends on `results:{id}`: exactly status, output, completed_at (and error). Foreign input: checked. */
const PublishedSchema = z.object({
  status: z.string(),
  output: z.string().optional(),
  completed_at: z.string().optional(),
  error: z.string().optional(),
});

function parsePublished(text: string): ResultRecord | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = PublishedSchema.safeParse(json);
  return parsed.success && FINAL.has(parsed.data.status) ? (parsed.data as ResultRecord) : undefined;
}

/**
 * Waits for a final status the way a peer waiter does: subscribed to
 * `results:{id}`, stopping only on `completed` or `failed`. The hash is read
 * once after subscribing (a result published before the wait began) and then
 * only as a slow fallback for a missed message. A final message wins over a
 * hash that says otherwise: a producer whose `pending` record came late may
 * have overwritten the final status (PROTOCOL.md, "Results").
 * Returns undefined on timeout.
 */
export async function waitForResult(redis: Redis, keys: Keys, taskId: string, o: WaitOptions): Promise<ResultRecord | undefined> {
  const deadline = Date.now() + o.timeoutMs;
  const pollMs = o.pollMs ?? 2000;
  const tickMs = o.onLog ? Math.min(o.logPollMs ?? 500, pollMs) : pollMs;
  let published: ResultRecord | undefined;
  let wake: () => void = () => undefined;
  // A subscribed connection takes no other command: a connection of its own.
  const sub = redis.duplicate();
  sub.on('error', () => undefined); // the fallback poll on `redis` keeps going meanwhile
  sub.on('message', (_channel: string, text: string) => {
    const message = parsePublished(text);
    if (message === undefined) return;
    published = message;
    wake();
  });
  const onAbort = () => wake();
  o.signal?.addEventListener('abort', onAbort);
  let seen = 0;
  const readLogs = async () => {
    if (!o.onLog) return;
    const lines = await redis.lrange(keys.resultLogs(taskId), seen, -1);
    seen += lines.length;
    for (const line of lines) o.onLog(line);
  };
  try {
    await sub.subscribe(keys.resultChannel(taskId));
    let hashReadAt = 0;
    for (;;) {
      const now = Date.now();
      const readHash = published !== undefined || now - hashReadAt >= pollMs;
      const [, record] = await Promise.all([readLogs(), readHash ? (redis.hgetall(keys.result(taskId)) as Promise<ResultRecord>) : undefined]);
      if (readHash) hashReadAt = now;
      const final = record?.status && FINAL.has(record.status) ? record : published ? { ...record, ...published } : undefined;
      if (final) {
        await readLogs(); // the publication's own line, written with the final status
        return final;
      }
      if (Date.now() >= deadline || o.signal?.aborted) return undefined;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, Math.min(tickMs, deadline - Date.now())));
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = () => undefined;
    }
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
    sub.disconnect();
  }
}
