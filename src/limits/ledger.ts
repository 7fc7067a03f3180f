import type { Redis } from 'ioredis';
import type { Keys } from '../protocol/keys.ts';
import type { TaskRef } from '../protocol/taskRef.ts';

export interface SpendLedger {
  /** The task is held here from now on: its spend so far, as its checkpoint had it (0 for a fresh claim). */
  start(task: TaskRef, spentUsd: number): void;
  /** Dollars the task has spent so far, all its workers and holders together. */
  spent(task: TaskRef): number;
  /**
   * Adds to the task's sum at once; returns the checkpoint field to write
   * with the task's next progress step (`spend_usd`, the running total).
   */
  add(task: TaskRef, usd: number): Record<string, string>;
  /** The task left this instance (published, handed off): drop its entry. */
  forget(task: TaskRef): void;
  /** Writes this instance's unwritten spend now (also done every `flushMs`). */
  flush(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Spend per task and per instance. A task's workers all run in the
 * instance that holds it, so the running sum is kept here; Redis gets it
 * with the task's next progress step (the checkpoint's `spend_usd`, where a
 * holder taking the task over starts from), not one command per model call.
 * The instance's total in the domain's spend hash (for `watch`) is added up
 * here and written at most once per `flushMs`, in one HINCRBYFLOAT.
 */
export function createSpendLedger(options: { redis: Redis; keys: Keys; agentId: string; flushMs: number; onError?: (error: unknown) => void }): SpendLedger {
  const { redis, keys } = options;
  const sums = new Map<string, number>();
  let unwritten = 0;
  let timer: NodeJS.Timeout | undefined;
  const flush = async (): Promise<void> => {
    clearTimeout(timer);
    timer = undefined;
    if (unwritten === 0) return;
    const usd = unwritten;
    unwritten = 0;
    await redis.hincrbyfloat(keys.spend, options.agentId, usd.toFixed(9)).then(
      () => undefined,
      (error: unknown) => {
        unwritten += usd; // tried again with the next flush
        options.onError?.(error);
      },
    );
  };
  return {
    start(task, spentUsd) {
      sums.set(task.key, spentUsd);
    },
    spent: (task) => sums.get(task.key) ?? 0,
    add(task, usd) {
      const sum = (sums.get(task.key) ?? 0) + usd;
      sums.set(task.key, sum);
      if (usd > 0) {
        unwritten += usd;
        timer ??= setTimeout(() => void flush(), options.flushMs).unref();
      }
      return { spend_usd: sum.toFixed(9) };
    },
    forget(task) {
      sums.delete(task.key);
    },
    flush,
    close: flush,
  };
}
