import type { Redis } from 'ioredis';
import type { Keys } from '../protocol/keys.ts';

// The task's running spend in its checkpoint (only while the checkpoint
// exists: a write after the publication must not leave a stray hash), and
// this instance's in the domain's spend hash.
const ADD_SPEND = `
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HINCRBYFLOAT', KEYS[1], 'spend_usd', ARGV[1]) end
redis.call('HINCRBYFLOAT', KEYS[2], ARGV[2], ARGV[1])
return 1`;

export interface SpendLedger {
  /** Dollars the task has spent so far, all its workers and holders together. */
  spent(claimKey: string): Promise<number>;
  /** Adds to the task's sum at once (resolves when it is counted here); Redis is written behind. */
  add(claimKey: string, usd: number): Promise<void>;
  /** The task left this instance (published, handed off): drop its entry. */
  forget(claimKey: string): void;
}

/**
 * Spend per task and per instance. A task's workers all run in the
 * instance that holds it, so the running sum is kept here and only read from
 * the checkpoint (`spend_usd`) the first time: a task taken over from a dead
 * holder starts from what that holder had recorded.
 */
export function createSpendLedger(options: { redis: Redis; keys: Keys; agentId: string; onError?: (error: unknown) => void }): SpendLedger {
  const { redis, keys } = options;
  const loaded = new Map<string, Promise<number>>();
  const sums = new Map<string, number>();
  const base = (claimKey: string): Promise<number> => {
    let p = loaded.get(claimKey);
    if (p === undefined) {
      p = redis.hget(keys.checkpoint(claimKey), 'spend_usd').then(
        (v) => Number(v ?? 0) || 0,
        () => 0,
      );
      loaded.set(claimKey, p);
    }
    return p;
  };
  return {
    async spent(claimKey) {
      const b = await base(claimKey);
      return sums.get(claimKey) ?? b;
    },
    async add(claimKey, usd) {
      const b = await base(claimKey);
      sums.set(claimKey, (sums.get(claimKey) ?? b) + usd);
      // Not waited for: the budget reads the sum kept here; Redis's copy is for watch and a takeover.
      void redis
        .eval(ADD_SPEND, 2, keys.checkpoint(claimKey), keys.spend, usd.toFixed(9), options.agentId)
        .catch((error: unknown) => options.onError?.(error));
    },
    forget(claimKey) {
      loaded.delete(claimKey);
      sums.delete(claimKey);
    },
  };
}
