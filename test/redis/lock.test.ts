import { afterAll, describe, expect, it, vi } from 'vitest';
import { acquireLock, LockWaitAbortedError, withLock } from '../../src/redis/lock.ts';
import { client, countCommands, freshDomain } from '../support/redis.ts';

const redis = client();
afterAll(async () => {
  await redis.quit();
});

describe('Redis lock (owner token, TTL, compare-and-delete)', () => {
  it('lets one holder in at a time and hands over on release', async () => {
    const key = `${freshDomain().keys.own}lock`;
    const a = await acquireLock(redis, key, { ttlMs: 5000 });
    // B on a connection of its own, counting its tries.
    const other = client();
    const tries = countCommands(other, 'eval', 'evalsha');
    let bGot = false;
    const b = acquireLock(other, key, { ttlMs: 5000, pollMs: 10 }).then((l) => ((bGot = true), l));
    await vi.waitFor(() => expect(tries()).toBeGreaterThanOrEqual(5), { timeout: 10_000 }); // B asked again and again
    expect(bGot).toBe(false);
    await a.release();
    const held = await b;
    expect(await redis.get(key)).toBe(held.token);
    await held.release();
    expect(await redis.exists(key)).toBe(0);
    await other.quit();
  });

  it('a holder whose lock expired cannot release the next holder\'s lock', async () => {
    const key = `${freshDomain().keys.own}lock`;
    const stale = await acquireLock(redis, key, { ttlMs: 1000 });
    // Simulate the expiry and someone else taking it.
    await redis.set(key, 'someone-else', 'PX', 5000);
    await stale.release();
    expect(await redis.get(key)).toBe('someone-else');
    await redis.del(key);
  });

  it('renews the lock while held, so it outlives its TTL', async () => {
    const key = `${freshDomain().keys.own}lock`;
    const value = await withLock(redis, key, { ttlMs: 1000 }, async () => {
      await new Promise((r) => setTimeout(r, 1600));
      return redis.pttl(key);
    });
    expect(value).toBeGreaterThan(0);
    expect(await redis.exists(key)).toBe(0);
  });

  it('stops waiting when its signal aborts', async () => {
    const key = `${freshDomain().keys.own}lock`;
    await redis.set(key, 'other', 'PX', 5000);
    const controller = new AbortController();
    const waiting = acquireLock(redis, key, { ttlMs: 1000, signal: controller.signal, pollMs: 10 });
    controller.abort();
    await expect(waiting).rejects.toBeInstanceOf(LockWaitAbortedError);
    await redis.del(key);
  });
});
