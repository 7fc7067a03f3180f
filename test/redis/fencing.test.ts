import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { aggregate } from '../../src/results/aggregate.ts';
import { connectRedis } from '../../src/redis/connection.ts';
import { ACQUIRE, acquireLock, holderState, RELEASE } from '../../src/redis/lock.ts';
import { createProgressWriter, RECORD_PROGRESS, StaleHolderError } from '../../src/redis/progress.ts';
import { OwnershipLostError, PUBLISH, publishResult } from '../../src/redis/results.ts';
import { resend } from '../../src/redis/retry.ts';
import { scriptCall, startFaultProxy, type FaultProxy } from '../support/faultProxy.ts';
import { client, freshDomain, redisUrl } from '../support/redis.ts';
import { taskRef } from '../support/fixtures.ts';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function proxied(): Promise<FaultProxy> {
  const target = new URL(redisUrl());
  const proxy = await startFaultProxy({ host: target.hostname, port: Number(target.port) });
  cleanups.push(() => proxy.close());
  return proxy;
}

/** An auto-pipelining connection like the listener's, through `url`. */
async function listenerConnection(url: string) {
  const redis = connectRedis(url, 'fencing-test', { autoPipelining: true });
  redis.on('error', () => undefined);
  cleanups.push(async () => redis.disconnect());
  await redis.ping();
  return redis;
}

/** Task ids unique to this run: `results:{id}` keys are shared by every test on the server. */
const uid = (name: string) => `${name}-${randomUUID()}`;

const output = (taskId: string) =>
  aggregate({ taskId, plan: undefined, steps: [], failure: 'x', cutShort: undefined, workspace: undefined, startedAt: 0, finishedAt: 0 });

describe('writes that survive a dropped connection', () => {
  it('an auto-pipelined command whose pipeline had a partial reply is aborted by ioredis, and resend() sends it again', async () => {
    const proxy = await proxied();
    const redis = await listenerConnection(proxy.url);
    const { keys } = freshDomain();
    const key = `${keys.own}x`;
    const isHset = (args: Buffer[]) => args[0]?.toString().toLowerCase() === 'hset' && args[1]?.toString() === key;

    // One pipeline [get, hset]: the get is answered, the hset's reply is lost with the connection.
    const lost = proxy.loseReply(isHset);
    const [get, hset] = [redis.get(`${key}:other`), redis.hset(key, 'f', 'v1')];
    await expect(get).resolves.toBeNull();
    await expect(hset).rejects.toThrow(/Command aborted due to connection close/);
    await lost;

    const again = proxy.loseReply(isHset);
    let retries = 0;
    const [get2, hset2] = [redis.get(`${key}:other`), resend(redis, () => redis.hset(key, 'f', 'v2'), { onRetry: () => retries++ })];
    await get2;
    await expect(hset2).resolves.toBe(0); // the first send ran (the field existed), the second answers
    await again;
    expect(retries).toBe(1);
    expect(await redis.hget(key, 'f')).toBe('v2');
  });

  it("a progress batch aborted by the drop is sent again and written once (its batch number)", async () => {
    const proxy = await proxied();
    const redis = await listenerConnection(proxy.url);
    const { keys } = freshDomain();
    const [t1, t2] = [uid('t1'), uid('t2')];
    for (const k of [t1, t2]) await redis.hset(keys.checkpoint(k), 'owner', 'me', 'fence', '7');
    const progress = createProgressWriter({ redis, keys, flushMs: 60_000, requireFence: true, onError: () => undefined });
    progress.hold(taskRef(t1), '7');
    progress.hold(taskRef(t2), '7');
    progress.write({ ref: taskRef(t1), lines: ['one'] });
    progress.write({ ref: taskRef(t2), fields: { 'result:db-worker': '{}' }, lines: ['two'] });
    // flush sends both in one tick: one pipeline, the second one's reply lost.
    const lost = proxy.loseReply(scriptCall(RECORD_PROGRESS, (args) => args.some((a) => a.toString() === 'result:db-worker')));
    await progress.flush();
    await lost;
    await progress.idle(taskRef(t2));
    expect(await redis.hget(keys.checkpoint(t2), 'result:db-worker')).toBe('{}');
    const lines = (await redis.lrange(keys.resultLogs(t2), 0, -1)).map((l) => l.replace(/^\[[^\]]+\] /, ''));
    expect(lines).toEqual(['two']);
    expect((await redis.lrange(keys.resultLogs(t1), 0, -1)).length).toBe(1);
  });

  it('a publication whose reply was lost answers "published" when sent again, not "held by another"', async () => {
    const proxy = await proxied();
    const redis = await listenerConnection(proxy.url);
    const { keys } = freshDomain();
    const p1 = uid('p1');
    const raw = Buffer.from(JSON.stringify({ task_id: p1 }));
    await redis.lpush(keys.active, raw);
    await redis.hset(keys.result(p1), 'task_id', p1, 'status', 'in_progress');
    await redis.hset(keys.checkpoint(p1), 'owner', 'me', 'fence', '3');
    const lost = proxy.loseReply(scriptCall(PUBLISH));
    const sub = client();
    cleanups.push(() => sub.quit());
    let published = 0;
    await sub.subscribe(keys.resultChannel(p1));
    sub.on('message', () => published++);
    await publishResult(
      { redis, keys, agentId: 'me', owner: 'me', graceMs: 1000, deadLetterLimit: 10 },
      { raw, ref: taskRef(p1), outcome: 'failed', output: output(p1), error: 'x', deadLetter: undefined, fence: '3' },
    );
    await lost;
    // A round trip on the subscriber: Redis delivers every message published before it ahead of the PONG.
    await sub.ping();
    expect(published).toBe(1);
    expect(await redis.hget(keys.result(p1), 'status')).toBe('failed');
    expect(await redis.llen(keys.active)).toBe(0);
  });
});

describe('fencing', () => {
  it('refuses the progress, the publication and the merge check of a holder whose token is not the current one', async () => {
    const redis = client();
    cleanups.push(() => redis.quit());
    const { keys } = freshDomain();
    const f1 = uid('f1');
    const raw = Buffer.from(JSON.stringify({ task_id: f1 }));
    await redis.lpush(keys.active, raw);
    // B took the task over: the checkpoint carries B's token (5); A still holds 4.
    await redis.hset(keys.checkpoint(f1), 'owner', 'B', 'fence', '5');
    const stale: string[] = [];
    const progress = createProgressWriter({ redis, keys, flushMs: 60_000, requireFence: true, onError: () => undefined });
    progress.onStale((ref, fence) => stale.push(`${ref.key}@${fence}`));
    progress.hold(taskRef(f1), '4');
    await expect(progress.save({ ref: taskRef(f1), fields: { 'result:db-worker': '{}' }, lines: ['late'] })).rejects.toBeInstanceOf(
      StaleHolderError,
    );
    expect(stale).toEqual([`${f1}@4`]);
    expect(await redis.hget(keys.checkpoint(f1), 'result:db-worker')).toBeNull();
    expect(await redis.llen(keys.resultLogs(f1))).toBe(0);

    await expect(
      publishResult(
        { redis, keys, agentId: 'A', owner: 'A', graceMs: 100, deadLetterLimit: 10 },
        { raw, ref: taskRef(f1), outcome: 'completed', output: output(f1), error: undefined, deadLetter: undefined, fence: '4' },
      ),
    ).rejects.toBeInstanceOf(OwnershipLostError);
    expect(await redis.exists(keys.result(f1))).toBe(0);

    const lock = await acquireLock(redis, `${keys.own}merge-lock:test`, { ttlMs: 5000 });
    cleanups.push(() => lock.release());
    expect(await holderState(redis, keys.checkpoint(f1), '4', lock)).toBe('stale');
    expect(await holderState(redis, keys.checkpoint(f1), '5', lock)).toBe('current');
    await redis.del(lock.key); // the lock expired and someone else could take it
    expect(await holderState(redis, keys.checkpoint(f1), '5', lock)).toBe('lock');
    // Once published (the checkpoint gone), every holder is stale: the old owner check read "nobody" and let it merge.
    await redis.del(keys.checkpoint(f1));
    expect(await holderState(redis, keys.checkpoint(f1), '5')).toBe('stale');
  });

  it('a progress write after a writer drops the task is not sent at all', async () => {
    const d1 = uid('d1');
    const redis = client();
    cleanups.push(() => redis.quit());
    const { keys } = freshDomain();
    await redis.ping();
    const progress = createProgressWriter({ redis, keys, flushMs: 10, requireFence: true, onError: () => undefined });
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] }); // the writer's flush timer; the socket stays real
    progress.hold(taskRef(d1), '1');
    progress.drop(taskRef(d1));
    progress.write({ ref: taskRef(d1), lines: ['after the publication'] });
    await expect(progress.save({ ref: taskRef(d1), lines: ['x'] })).rejects.toBeInstanceOf(StaleHolderError);
    await vi.advanceTimersByTimeAsync(10); // past flushMs: a held write would go now
    await progress.idle(taskRef(d1)); // and be in Redis once this resolves
    expect(await redis.llen(keys.resultLogs(d1))).toBe(0);
  });
});

describe('the merge lock through a lost reply', () => {
  it('an acquisition whose reply was lost holds the lock (no wait for its TTL), and a lost release still frees it', async () => {
    const proxy = await proxied();
    const redis = await listenerConnection(proxy.url);
    const { keys } = freshDomain();
    const key = `${keys.own}merge-lock:${randomUUID()}`;
    const lostAcquire = proxy.loseReply(scriptCall(ACQUIRE));
    const lock = await acquireLock(redis, key, { ttlMs: 60_000, pollMs: 25 });
    await lostAcquire;
    expect(await redis.get(key)).toBe(lock.token);

    const lostRelease = proxy.loseReply(scriptCall(RELEASE));
    await lock.release();
    await lostRelease;
    expect(await redis.exists(key)).toBe(0);
    expect(proxy.stats.lost).toBe(2);
  });
});
