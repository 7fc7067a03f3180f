import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

// Compare-and-delete / compare-and-extend: only the holder of the token may
// release or extend, so a holder whose lock expired (it stalled past the
// TTL) cannot free or keep the lock someone else now holds.
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;
const EXTEND = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;

/** A lock across instances: one Redis key holding the holder's random token, with a TTL. */
export interface HeldLock {
  readonly key: string;
  readonly token: string;
  /** Releases the lock if this holder still has it; safe to call twice. */
  release(): Promise<void>;
}

export class LockWaitAbortedError extends Error {
  override name = 'LockWaitAbortedError';
}

export interface LockOptions {
  ttlMs: number;
  /** Stops the wait (a cancelled task). */
  signal?: AbortSignal | undefined;
  /** Polling period while someone else holds it; default ttl/20 between 25 and 500 ms. */
  pollMs?: number;
  /** Called when a renewal finds the lock taken by someone else (it had expired). */
  onLost?: () => void;
}

const sleep = (ms: number, signal: AbortSignal | undefined) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(new LockWaitAbortedError('stopped waiting for a lock'));
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new LockWaitAbortedError('stopped waiting for a lock'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/**
 * Waits for the lock (SET NX PX with a fresh token), then keeps it alive
 * every third of its TTL until released. A holder that dies stops renewing
 * and the lock frees itself after the TTL.
 */
export async function acquireLock(redis: Redis, key: string, o: LockOptions): Promise<HeldLock> {
  const token = randomUUID();
  const poll = o.pollMs ?? Math.min(500, Math.max(25, Math.floor(o.ttlMs / 20)));
  while ((await redis.set(key, token, 'PX', o.ttlMs, 'NX')) !== 'OK') await sleep(poll, o.signal);
  let released = false;
  const timer = setInterval(() => {
    redis.eval(EXTEND, 1, key, token, o.ttlMs).then(
      (ok) => {
        if (Number(ok) !== 1 && !released) o.onLost?.();
      },
      () => undefined, // Redis away: the next renewal tries again, and the TTL covers the gap
    );
  }, Math.max(10, Math.floor(o.ttlMs / 3)));
  timer.unref();
  let releasing: Promise<void> | undefined;
  return {
    key,
    token,
    release: () =>
      (releasing ??= (async () => {
        released = true;
        clearInterval(timer);
        await redis.eval(RELEASE, 1, key, token);
      })()),
  };
}

/** Runs `fn` while holding the lock; always releases it. */
export async function withLock<T>(redis: Redis, key: string, o: LockOptions, fn: () => Promise<T>): Promise<T> {
  const lock = await acquireLock(redis, key, o);
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}
