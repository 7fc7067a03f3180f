import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { waitForResult, type ResultRecord } from '../../src/client/wait.ts';
import { client, countCommands, freshDomain } from '../support/redis.ts';

// `send --wait` waits as the peers' own waiter does: subscribed to
// results:{id}, with polling only as a slow fallback for a missed message.

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

function setup() {
  const { keys } = freshDomain();
  const redis = client();
  cleanups.push(() => redis.quit());
  return { keys, redis, id: randomUUID() };
}

/** Liveness bound: a waiter that has not answered by then missed the result. */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)));
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** What our publisher does in one step: the hash, then PUBLISH of exactly status, output, completed_at (and error). */
async function publish(redis: ReturnType<typeof client>, id: string, fields: Record<string, string>) {
  await redis.hset(`results:${id}`, { task_id: id, outcome: fields.status === 'completed' ? 'completed' : 'failed', ...fields });
  await redis.publish(`results:${id}`, JSON.stringify(fields));
}

describe('waitForResult', () => {
  it('wakes on the results:{id} message, long before its fallback poll', async () => {
    const { keys, redis, id } = setup();
    await redis.hset(`results:${id}`, 'task_id', id, 'status', 'pending');
    const waiting = waitForResult(redis, keys, id, { timeoutMs: 600_000, pollMs: 600_000 });
    // Published once the waiter is subscribed; it may already be, so publish until it answers.
    const publisher = setInterval(() => void publish(redis, id, { status: 'completed', output: '{"status":"completed"}', completed_at: new Date().toISOString() }), 200);
    try {
      const record = await within(waiting, 15_000, 'the waiter');
      expect(record?.status).toBe('completed');
      expect(record?.outcome).toBe('completed');
    } finally {
      clearInterval(publisher);
    }
  });

  it('returns at once a result published before the wait began', async () => {
    const { keys, redis, id } = setup();
    await publish(redis, id, { status: 'failed', output: '{}', completed_at: new Date().toISOString(), error: 'no worker matches' });
    const record: ResultRecord | undefined = await within(waitForResult(redis, keys, id, { timeoutMs: 600_000, pollMs: 600_000 }), 15_000, 'the waiter');
    expect(record?.status).toBe('failed');
    expect(record?.error).toBe('no worker matches');
  });

  it('finds by its fallback poll a final status whose message it missed', async () => {
    const { keys, redis, id } = setup();
    await redis.hset(`results:${id}`, 'task_id', id, 'status', 'pending');
    const reads = countCommands(redis, 'hgetall');
    const waiting = waitForResult(redis, keys, id, { timeoutMs: 600_000, pollMs: 50 });
    // Its first read (after subscribing) is sent: the final status, written after it on the same connection, is for the poll to find.
    await vi.waitFor(() => expect(reads()).toBeGreaterThanOrEqual(1), { timeout: 10_000 });
    await redis.hset(`results:${id}`, 'status', 'completed', 'output', '{}'); // no PUBLISH
    expect((await within(waiting, 15_000, 'the waiter'))?.status).toBe('completed');
  });

  it('takes the final status from the message when the producer overwrote the hash with pending (PROTOCOL.md quirk)', async () => {
    const { keys, redis, id } = setup();
    await redis.hset(`results:${id}`, 'task_id', id, 'status', 'pending');
    const waiting = waitForResult(redis, keys, id, { timeoutMs: 600_000, pollMs: 600_000 });
    const publisher = setInterval(() => void redis.publish(`results:${id}`, JSON.stringify({ status: 'completed', output: '{"a":1}', completed_at: 'x' })), 200);
    try {
      const record = await within(waiting, 15_000, 'the waiter');
      expect(record?.status).toBe('completed');
      expect(record?.output).toBe('{"a":1}');
    } finally {
      clearInterval(publisher);
    }
  });

  it('ignores a malformed message on the channel and goes on waiting', async () => {
    const { keys, redis, id } = setup();
    await redis.hset(`results:${id}`, 'task_id', id, 'status', 'pending');
    const waiting = waitForResult(redis, keys, id, { timeoutMs: 600_000, pollMs: 600_000 });
    // Noise until the waiter has been sent some (PUBLISH answers how many subscribers got it).
    let heard = 0;
    await vi.waitFor(async () => {
      heard += await redis.publish(`results:${id}`, 'not json {');
      expect(heard).toBeGreaterThanOrEqual(3);
    }, { timeout: 10_000, interval: 50 });
    const publisher = setInterval(() => void publish(redis, id, { status: 'completed', output: '{}', completed_at: 'y' }), 200);
    try {
      expect((await within(waiting, 15_000, 'the waiter'))?.status).toBe('completed');
    } finally {
      clearInterval(publisher);
    }
  });
});
