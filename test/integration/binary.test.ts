import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { cancelTask } from '../../src/client/cancel.ts';
import { startTestOrchestrator } from '../support/orchestrator.ts';
import { client, eventually, freshDomain } from '../support/redis.ts';

// A queue carries bytes, not text: what a producer pushes need not be UTF-8.
// Everything done with a claimed message (checkpoint, LREM, dead letter) must
// use the exact bytes claimed, or the message stays in tasks:active forever.

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function setup(over: Parameters<typeof startTestOrchestrator>[0] = {}) {
  const { orchestrator, keys } = await startTestOrchestrator({ resultGraceMs: 0, ...over });
  const redis = client();
  cleanups.push(() => orchestrator.stop(), () => redis.quit());
  return { orchestrator, keys, redis };
}

describe('messages that are not UTF-8', () => {
  it('dead-letters ten raw bytes once, keeps them exactly, and leaves tasks:active empty', async () => {
    const { keys, redis } = await setup();
    const bytes = Buffer.from([0x00, 0xff, 0xfe, 0x80, 0xc3, 0x28, 0xa0, 0xa1, 0xed, 0xa0]);
    await redis.lpush(keys.pending, bytes);
    const [entry] = await eventually(async () => {
      const list = await redis.lrange(keys.deadLetters, 0, -1);
      return list.length ? list : undefined;
    }, 10_000, 'the dead letter');
    const dead = JSON.parse(entry!) as { reason: string; raw: string; raw_base64?: string };
    expect(dead.reason).toMatch(/not valid JSON/);
    expect(Buffer.from(dead.raw_base64 ?? '', 'base64').equals(bytes)).toBe(true);
    await eventually(async () => ((await redis.llen(keys.active)) === 0 ? true : undefined), 5000, 'tasks:active to be empty');
    expect(await redis.keys(`${keys.own}task:*`)).toEqual([]);
    expect(await redis.llen(keys.deadLetters)).toBe(1);
  });

  it('runs a valid task whose text holds invalid bytes, and removes exactly those bytes from tasks:active', async () => {
    const { keys, redis } = await setup();
    const id = randomUUID();
    const bytes = Buffer.concat([
      Buffer.from(`{"task_id":"${id}","payload":{"description":"Create user registration endpoint `),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('"}}'),
    ]);
    await redis.lpush(keys.pending, bytes);
    await redis.hset(`results:${id}`, 'task_id', id, 'status', 'pending');
    const status = await eventually(async () => {
      const s = await redis.hget(`results:${id}`, 'status');
      return s === 'completed' || s === 'failed' ? s : undefined;
    }, 15_000, 'a final status');
    expect(status).toBe('completed');
    await eventually(async () => ((await redis.llen(keys.active)) === 0 ? true : undefined), 5000, 'tasks:active to be empty');
    expect(await redis.exists(keys.checkpoint(id))).toBe(0);
  });

  it('dead-letters a second delivery of the same bytes while the first is in flight, removing only one entry', async () => {
    const { keys, redis } = await setup();
    const id = randomUUID();
    const bytes = Buffer.concat([Buffer.from(`{"task_id":"${id}","payload":{"description":"Create a users table `), Buffer.from([0xc0, 0xaf]), Buffer.from('"}}')]);
    // Both in one push: the second is claimed while the first holds the checkpoint (or just after it published).
    await redis.lpush(keys.pending, bytes, bytes);
    await redis.hset(`results:${id}`, 'task_id', id, 'status', 'pending');
    await eventually(async () => ((await redis.hget(`results:${id}`, 'status')) === 'completed' ? true : undefined), 15_000, 'the result');
    await eventually(async () => ((await redis.llen(keys.active)) === 0 && (await redis.llen(keys.pending)) === 0 ? true : undefined), 10_000, 'both queues empty');
    expect(await redis.exists(keys.checkpoint(id))).toBe(0);
  });

  it('adopts bytes left in tasks:active without a checkpoint (a claimer that died mid-claim) and removes them', async () => {
    const { domain, keys } = freshDomain();
    const redis = client();
    cleanups.push(() => redis.quit());
    const bytes = Buffer.from([0x7b, 0xff, 0x00, 0xfe, 0x7d]);
    await redis.lpush(keys.active, bytes);
    const { orchestrator } = await startTestOrchestrator({ domain, resultGraceMs: 0, orphanGraceMs: 0 });
    cleanups.push(() => orchestrator.stop());
    await eventually(async () => ((await redis.llen(keys.deadLetters)) === 1 ? true : undefined), 10_000, 'the dead letter');
    await eventually(async () => ((await redis.llen(keys.active)) === 0 ? true : undefined), 5000, 'tasks:active to be empty');
    const dead = JSON.parse((await redis.lindex(keys.deadLetters, 0))!) as { raw_base64?: string };
    expect(Buffer.from(dead.raw_base64 ?? '', 'base64').equals(bytes)).toBe(true);
  });

  it('cancels a queued message holding invalid bytes: removes exactly it from tasks:pending', async () => {
    const { keys } = freshDomain();
    const redis = client();
    cleanups.push(() => redis.quit());
    const id = randomUUID();
    await redis.lpush(keys.pending, Buffer.concat([Buffer.from(`{"task_id":"${id}","payload":{"description":"x`), Buffer.from([0xff]), Buffer.from('"}}')]));
    await redis.hset(`results:${id}`, 'task_id', id, 'status', 'pending');
    expect(await cancelTask(redis, keys, 'test-agent', id)).toBe('queued');
    expect(await redis.llen(keys.pending)).toBe(0);
    expect(await redis.hget(`results:${id}`, 'status')).toBe('failed');
  });
});
