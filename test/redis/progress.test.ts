import { afterEach, describe, expect, it, vi } from 'vitest';
import { createProgressWriter } from '../../src/redis/progress.ts';
import { taskRef } from '../support/fixtures.ts';
import { client, countCommands, freshDomain } from '../support/redis.ts';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

/**
 * The writer's own clock (its flush timer and `performance.now()`) made fake,
 * after the connection is up: the socket and its replies stay real.
 */
const fakeFlushClock = () => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });

/** A writer on its own connection, counting the commands that connection sends. */
async function writer(flushMs: number) {
  const redis = client();
  cleanups.push(async () => redis.disconnect());
  await redis.ping(); // connected: no command is counted twice by a replay of the offline queue
  const { keys } = freshDomain();
  const sent = countCommands(redis, 'eval', 'evalsha');
  const errors: unknown[] = [];
  const progress = createProgressWriter({ redis, keys, flushMs, onError: (e) => errors.push(e) });
  return { redis, keys, progress, sent, errors };
}

describe('progress writer', () => {
  it("sends a task's held steps with its next saved step, in one command, in order", async () => {
    const { redis, keys, progress, sent } = await writer(60_000);
    await redis.hset(keys.checkpoint('t1'), 'owner', 'me');
    fakeFlushClock();
    progress.write({ ref: taskRef('t1'), fields: { plan: '{"v":1}' }, lines: ['plan: db-worker'] });
    progress.write({ ref: taskRef('t1'), fields: { 'worker:db-worker': 'running' }, lines: ['db-worker started'] });
    await vi.advanceTimersByTimeAsync(59_999); // up to the last moment before flushMs
    expect(sent()).toBe(0); // held: nothing waits for them
    expect(await redis.hget(keys.checkpoint('t1'), 'plan')).toBeNull();

    await progress.save({ ref: taskRef('t1'), fields: { 'result:db-worker': '{}', 'worker:db-worker': 'succeeded' }, lines: ['db-worker succeeded'] });
    expect(sent()).toBe(1);
    expect(await redis.hgetall(keys.checkpoint('t1'))).toEqual({
      owner: 'me',
      plan: '{"v":1}',
      'worker:db-worker': 'succeeded', // the latest value of a field wins
      'result:db-worker': '{}',
    });
    const lines = await redis.lrange(keys.resultLogs('t1'), 0, -1);
    expect(lines.map((l) => l.replace(/^\[[^\]]+\] /, ''))).toEqual(['plan: db-worker', 'db-worker started', 'db-worker succeeded']);
    expect(lines[0]).toMatch(/^\[\d{4}-\d\d-\d\dT[\d:.]+Z\] /);
  });

  it('saves of several tasks in one turn go out together, one command per task', async () => {
    const { redis, keys, progress, sent } = await writer(60_000);
    await Promise.all(['a', 'b', 'c'].map((k) => redis.hset(keys.checkpoint(k), 'owner', 'me')));
    await Promise.all([
      progress.save({ ref: taskRef('a'), fields: { x: '1' } }),
      progress.save({ ref: taskRef('a'), fields: { y: '2' } }),
      progress.save({ ref: taskRef('b'), fields: { x: '3' } }),
    ]);
    expect(sent()).toBe(2);
    expect(await redis.hgetall(keys.checkpoint('a'))).toEqual({ owner: 'me', x: '1', y: '2' });
    expect(await redis.hget(keys.checkpoint('b'), 'x')).toBe('3');
  });

  it('sends what is held after flushMs when no saved step comes', async () => {
    const { redis, keys, progress, sent } = await writer(50);
    await redis.hset(keys.checkpoint('t'), 'owner', 'me');
    fakeFlushClock();
    progress.write({ ref: taskRef('t'), fields: { 'worker:api-worker': 'waiting' }, lines: ['api-worker started'] });
    await vi.advanceTimersByTimeAsync(49);
    expect(sent()).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(sent()).toBe(1);
    await progress.idle(taskRef('t')); // its reply is in
    expect(await redis.hget(keys.checkpoint('t'), 'worker:api-worker')).toBe('waiting');
    expect(await redis.llen(keys.resultLogs('t'))).toBe(1);
  });

  it('hands held lines to the publication and never writes a checkpoint that is gone', async () => {
    const { redis, keys, progress, sent, errors } = await writer(20);
    progress.write({ ref: taskRef('gone'), fields: { spend_usd: '0.1' }, lines: ['db-worker started'] });
    const held = progress.lines(taskRef('gone'));
    expect(held).toHaveLength(1);
    expect(held[0]).toMatch(/\] db-worker started$/);
    await progress.flush();
    expect(sent()).toBe(0); // the publication writes them, not the writer
    expect(progress.lines(taskRef('gone'))).toEqual(held); // a publication retried carries them again
    progress.drop(taskRef('gone'));
    // A late step for a published task (its checkpoint deleted) leaves no stray hash behind.
    progress.write({ ref: taskRef('gone'), fields: { spend_usd: '0.2' } });
    await progress.flush();
    expect(sent()).toBe(1);
    expect(await redis.exists(keys.checkpoint('gone'))).toBe(0);
    expect(errors).toEqual([]);
  });

  it('rejects a save when Redis refuses it, and reports a held step that failed', async () => {
    const { redis, keys, progress, errors } = await writer(10);
    await redis.set(keys.resultLogs('wrong'), 'a string, not a list');
    await expect(progress.save({ ref: taskRef('wrong'), lines: ['x'] })).rejects.toThrow(/WRONGTYPE/);
    progress.write({ ref: taskRef('wrong'), lines: ['y'] });
    await progress.flush();
    expect(String(errors[0])).toMatch(/WRONGTYPE/);
  });
});
