import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DeadLetterGoneError, requeueDeadLetter } from '../../src/redis/deadLetters.ts';
import { makeTask } from '../support/fixtures.ts';
import { cleanupsAfterEach, client, freshDomain } from '../support/redis.ts';

const cleanups = cleanupsAfterEach();

// requeueDeadLetter's script (src/redis/lua/requeueDeadLetter.lua) now runs by
// EVALSHA instead of EVAL: the same keys, the same writes, the same replies.
describe('requeueDeadLetter', () => {
  it('moves the message to the queue, resets the result record to pending and announces it, once', async () => {
    const redis = client();
    cleanups.push(async () => redis.disconnect());
    const { keys } = freshDomain();
    const taskId = randomUUID();
    const raw = JSON.stringify(makeTask(undefined, { taskId }));
    const entry = JSON.stringify({ reason: 'test', task_id: taskId, raw });
    const result = keys.result(taskId);
    cleanups.push(() => redis.del(result, keys.pending, keys.deadLetters));
    await redis.lpush(keys.deadLetters, entry);
    await redis.hset(result, 'task_id', taskId, 'status', 'failed', 'outcome', 'x', 'error', 'e', 'completed_at', 'now', 'kept', 'y');
    const listener = client();
    cleanups.push(async () => listener.disconnect());
    const heard: string[] = [];
    listener.on('message', (_channel: string, message: string) => heard.push(message));
    await listener.subscribe(keys.notifications);

    await expect(requeueDeadLetter(redis, keys, entry, raw)).resolves.toEqual({ taskId });
    expect(await redis.lrange(keys.pending, 0, -1)).toEqual([raw]);
    expect(await redis.llen(keys.deadLetters)).toBe(0);
    expect(await redis.hgetall(result)).toEqual({ task_id: taskId, status: 'pending', kept: 'y' });
    await expect.poll(() => heard).toEqual([raw]);

    await expect(requeueDeadLetter(redis, keys, entry, raw)).rejects.toThrow(DeadLetterGoneError);
    expect(await redis.lrange(keys.pending, 0, -1)).toEqual([raw]);
  });
});
