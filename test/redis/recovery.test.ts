import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createRecovery } from '../../src/redis/recovery.ts';
import { makeTask } from '../support/fixtures.ts';
import { cleanupsAfterEach, client, freshDomain } from '../support/redis.ts';

const cleanups = cleanupsAfterEach();

describe('recovery from the checkpoints (SCAN)', () => {
  it('resumes a checkpoint whose message is in no queue and whose holder is gone, with a new fencing token; leaves the others', async () => {
    const redis = client();
    cleanups.push(() => redis.quit());
    const { keys } = freshDomain();
    const [orphan, alive, queued] = [randomUUID(), randomUUID(), randomUUID()];
    const raw = (id: string) => Buffer.from(JSON.stringify(makeTask('Create a users table', { taskId: id })));
    // A claim dropped by the old claim script: checkpoint kept, message gone from tasks:active.
    await redis.hset(keys.checkpoint(orphan), { raw: raw(orphan), owner: 'dead', fence: '3', takeovers: '0', first_claimed_at: '1000' });
    // Held by a live instance (its heartbeat is there), and one whose message waits in the queue.
    await redis.hset(keys.checkpoint(alive), { raw: raw(alive), owner: 'alive', fence: '4', takeovers: '0' });
    await redis.set(keys.agentHeartbeat('alive'), 'x', 'EX', 30);
    cleanups.push(() => redis.del(keys.agentHeartbeat('alive')));
    await redis.hset(keys.checkpoint(queued), { raw: raw(queued), owner: 'dead', fence: '5', takeovers: '0' });
    await redis.lpush(keys.pending, raw(queued));

    const recover = createRecovery({ redis, keys, agentId: 'me', orphanGraceMs: 0 });
    const taken = await recover(4, new Set());
    expect(taken.map((c) => c.ref)).toEqual([{ key: orphan, id: orphan }]);
    expect(taken[0]!.raw.equals(raw(orphan))).toBe(true);
    expect(taken[0]!.claimedAt).toBe(1000);
    const checkpoint = await redis.hgetall(keys.checkpoint(orphan));
    expect(checkpoint.owner).toBe('me');
    expect(checkpoint.fence).toBe(taken[0]!.fence);
    expect(Number(checkpoint.fence)).toBeGreaterThan(3); // above the holder it replaces, whatever the counter said
    expect(checkpoint.takeovers).toBe('1');
    // Back in the active list, where the publication's LREM expects it.
    expect((await redis.lrangeBuffer(keys.active, 0, -1)).map((b) => b.toString())).toEqual([raw(orphan).toString()]);
    expect(await redis.hget(keys.checkpoint(alive), 'owner')).toBe('alive');
    expect(await redis.hget(keys.checkpoint(queued), 'owner')).toBe('dead');
  });
});
