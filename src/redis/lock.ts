import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { resend } from './retry.ts';
import { luaFile } from './script.ts';
import { OrchestratorError } from '../errors.ts';

// Compare-and-delete / compare-and-extend: only the holder of the token may
// release or extend (src/redis/lua/lockRelease.lua, lockExtend.lua).
export const RELEASE = luaFile('lockRelease');
const EXTEND = luaFile('lockExtend');
// SET NX PX that a rerun (its reply was lost) answers as the first run did (src/redis/lua/lockAcquire.lua).
export const ACQUIRE = luaFile('lockAcquire');
// Whether a task's holder may still act, checked atomically (src/redis/lua/holds.lua).
const HOLDS = luaFile('holds');

/**
 * Whether the holder with fencing token `fence` is still the task's current
 * holder (and, with `lock`, still holds that lock), read atomically. 'lock'
 * when the lock was lost, 'stale' when another holder has the task (or it
 * was published), 'current' otherwise. Sent again after a dropped
 * connection (a read).
 */
export async function holderState(redis: Redis, checkpoint: string, fence: string, lock?: HeldLock): Promise<'current' | 'stale' | 'lock'> {
  const keys = lock ? [checkpoint, lock.key] : [checkpoint];
  const reply = Number(await resend(redis, () => HOLDS.run(redis, keys.length, ...keys, fence, lock?.token ?? '')));
  return reply === 1 ? 'current' : reply === -1 ? 'stale' : 'lock';
}

/** A lock across instances: one Redis key holding the holder's random token, with a TTL. */
export interface HeldLock {
  readonly key: string;
  readonly token: string;
  /** Releases the lock if this holder still has it; safe to call twice. */
  release(): Promise<void>;
}

export class LockWaitAbortedError extends OrchestratorError {}

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
  const attempt = async () => Number(await resend(redis, () => ACQUIRE.run(redis, 1, key, token, o.ttlMs), { signal: o.signal })) === 1;
  while (!(await attempt())) await sleep(poll, o.signal);
  let released = false;
  const timer = setInterval(() => {
    EXTEND.run(redis, 1, key, token, o.ttlMs).then(
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
        // Compare-and-delete: safe to send again after a dropped connection.
        await resend(redis, () => RELEASE.run(redis, 1, key, token));
      })()),
  };
}

/** Runs `fn` while holding the lock; always releases it. */
export async function withLock<T>(redis: Redis, key: string, o: LockOptions, fn: (lock: HeldLock) => Promise<T>): Promise<T> {
  const lock = await acquireLock(redis, key, o);
  try {
    return await fn(lock);
  } finally {
    await lock.release();
  }
}
