import { describe, expect, it } from 'vitest';
import { buildTaskMessage, sendTask } from '../../src/client/send.ts';
import { cancelTask } from '../../src/client/cancel.ts';
import type { TaskOutput } from '../../src/protocol/output.ts';
import { publishResult } from '../../src/redis/results.ts';
import { readIndexed } from '../../src/redis/taskIndex.ts';
import { makeTask, taskRef } from '../support/fixtures.ts';
import { cleanupsAfterEach, client, freshDomain } from '../support/redis.ts';

const cleanups = cleanupsAfterEach();

function setup() {
  const { domain, keys } = freshDomain();
  const redis = client();
  cleanups.push(async () => redis.disconnect());
  return { domain, keys, redis };
}

const output = (id: string, outcome: TaskOutput['outcome']) => ({ status: outcome === 'partial' ? 'partial' : outcome === 'failed' ? 'failed' : 'completed', outcome, task_id: id }) as TaskOutput;

describe("the console's tasks index", () => {
  it('holds each published task under its finished state, with its description, also one cancelled while queued', async () => {
    const { redis, keys, domain } = setup();
    const publish = (id: string, outcome: TaskOutput['outcome'], description: string) =>
      publishResult(
        { redis, keys, agentId: 'A', owner: undefined, graceMs: 0, deadLetterLimit: 10 },
        { raw: Buffer.from(JSON.stringify(makeTask(description, { taskId: id }))), ref: taskRef(id), outcome, output: output(id, outcome), error: outcome === 'completed' ? undefined : 'it broke', deadLetter: undefined },
      );
    await publish(`${domain}-ok`, 'completed', 'Create user registration endpoint');
    await publish(`${domain}-half`, 'partial', 'Add role-based access to admin routes');
    const queued = buildTaskMessage({ description: 'Create a REST API for blog posts', taskId: `${domain}-cancelled` }, domain);
    await sendTask(redis, keys, queued);
    expect(await cancelTask(redis, keys, 'A', queued.task_id, 'not needed')).toBe('queued');

    expect(await redis.zrange(keys.tasksFinished('completed'), '0', '-1')).toEqual([`${domain}-ok`]);
    expect(await redis.zrange(keys.tasksFinished('partial'), '0', '-1')).toEqual([`${domain}-half`]);
    expect(await redis.zrange(keys.tasksFinished('cancelled'), '0', '-1')).toEqual([queued.task_id]);
    const [ok, half, cancelled] = await readIndexed(redis, keys, [`${domain}-ok`, `${domain}-half`, queued.task_id]);
    expect(ok).toMatchObject({ state: 'completed', description: 'Create user registration endpoint', outcome: 'completed', error: undefined });
    expect(half).toMatchObject({ state: 'partial', description: 'Add role-based access to admin routes', error: 'it broke' });
    expect(cancelled).toMatchObject({ state: 'cancelled', description: 'Create a REST API for blog posts', outcome: 'failed', error: 'not needed' });

    // Published again (a requeued task) it moves: one state at a time.
    await publish(`${domain}-half`, 'completed', 'Add role-based access to admin routes');
    expect(await redis.zrange(keys.tasksFinished('partial'), '0', '-1')).toEqual([]);
    expect(await redis.zcard(keys.tasksFinished('completed'))).toBe(2);
  });

  it('is bounded: a state keeps its newest ids, and the trimmed ones lose their rows', async () => {
    const { redis, keys, domain } = setup();
    const t = (i: number) => `${domain}-t-${i}`;
    for (let i = 1; i <= 5; i++) {
      await publishResult(
        { redis, keys, agentId: 'A', owner: undefined, graceMs: 0, deadLetterLimit: 10, taskIndexLimit: 3 },
        { raw: Buffer.from(JSON.stringify(makeTask(`task ${i}`, { taskId: t(i) }))), ref: taskRef(t(i)), outcome: 'failed', output: output(t(i), 'failed'), error: 'x', deadLetter: undefined },
      );
    }
    expect(await redis.zrange(keys.tasksFinished('failed'), '0', '-1')).toEqual([t(3), t(4), t(5)]);
    expect((await redis.hkeys(keys.tasksInfo)).sort()).toEqual([t(3), t(4), t(5)]);
    expect((await readIndexed(redis, keys, [t(1), t(5)])).map((r) => r?.description)).toEqual([undefined, 'task 5']);
  });

  it('lists a running task a cancel reached, published failed, as cancelled; one that completed all the same as completed', async () => {
    const { redis, keys, domain } = setup();
    for (const [id, outcome] of [[`${domain}-stopped`, 'failed'], [`${domain}-finished-anyway`, 'completed']] as const) {
      await redis.hset(keys.checkpoint(id), 'owner', 'A', 'cancel', 'not needed');
      await publishResult(
        { redis, keys, agentId: 'A', owner: 'A', graceMs: 0, deadLetterLimit: 10 },
        { raw: Buffer.from(JSON.stringify(makeTask('Create user registration endpoint', { taskId: id }))), ref: taskRef(id), outcome, output: output(id, outcome), error: outcome === 'failed' ? 'not needed' : undefined, deadLetter: undefined },
      );
    }
    const [stopped, anyway] = await readIndexed(redis, keys, [`${domain}-stopped`, `${domain}-finished-anyway`]);
    expect(stopped).toMatchObject({ state: 'cancelled', outcome: 'failed', description: 'Create user registration endpoint' });
    expect(anyway).toMatchObject({ state: 'completed' });
    expect(await redis.zrange(keys.tasksFinished('cancelled'), '0', '-1')).toEqual([`${domain}-stopped`]);
  });
});
