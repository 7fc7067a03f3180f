import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildTaskMessage, sendTask } from '../../src/client/send.ts';
import type { TaskOutput } from '../../src/protocol/output.ts';
import { cancelTask } from '../../src/client/cancel.ts';
import { taskDirName } from '../../src/workers/taskDirName.ts';
import { startTestOrchestrator } from '../support/orchestrator.ts';
import { client, eventually } from '../support/redis.ts';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function start(...args: Parameters<typeof startTestOrchestrator>) {
  const t = await startTestOrchestrator(...args);
  const redis = client();
  cleanups.push(() => redis.quit(), () => t.orchestrator.stop());
  return { ...t, redis };
}

const final = (redis: ReturnType<typeof client>, id: string, ms = 10_000) =>
  eventually(async () => {
    const r = await redis.hgetall(`results:${id}`);
    return r.status === 'completed' || r.status === 'failed' ? r : undefined;
  }, ms, `a final result for ${id}`);

describe('orchestrator with the scripted model', () => {
  it('completes "Create user registration endpoint" with db, api and auth workers whose files are in the workspace', async () => {
    const { redis, keys, config } = await start();
    const m = buildTaskMessage({ description: 'Create user registration endpoint', requirements: ['POST /api/users/register'] }, config.domain);
    await sendTask(redis, keys, m);
    const record = await final(redis, m.task_id);
    expect(record.status).toBe('completed');
    const output = JSON.parse(record.output!) as TaskOutput;
    expect([...output.workers_used].sort()).toEqual(['api-worker', 'auth-worker', 'db-worker']);
    expect(output.files_created.length).toBeGreaterThanOrEqual(3);
    for (const f of output.files_created) expect(existsSync(join(output.workspace!, f)), f).toBe(true);
    expect(output.workspace).toBe(join(config.workspace, taskDirName(m.task_id)));
    expect(output.usage!.input_tokens).toBeGreaterThan(0);
    expect(await redis.llen(keys.active)).toBe(0);
    expect(await redis.exists(keys.checkpoint(m.task_id))).toBe(0);
  });

  it('ends partial when a leaf worker always fails, naming it, with the other files kept', async () => {
    const { redis, keys, config } = await start({ scripted: { fail: ['auth-worker'] }, workerAttempts: 2 });
    const m = buildTaskMessage({ description: 'Create user registration endpoint' }, config.domain);
    await sendTask(redis, keys, m);
    const record = await final(redis, m.task_id);
    expect(record.status).toBe('failed');
    expect(record.outcome).toBe('partial');
    expect(record.error).toMatch(/auth-worker failed/);
    const output = JSON.parse(record.output!) as TaskOutput;
    expect(output.status).toBe('partial');
    expect(output.failed_workers).toEqual(['auth-worker']);
    expect(output.details['auth-worker']?.attempts).toBe(2);
    expect(output.files_created.length).toBeGreaterThan(0);
  });

  it('publishes a clear failure for a task no worker matches', async () => {
    const { redis, keys, config } = await start();
    const m = buildTaskMessage({ description: 'Paint the office walls blue' }, config.domain);
    await sendTask(redis, keys, m);
    const record = await final(redis, m.task_id);
    expect(record.status).toBe('failed');
    expect(record.error).toMatch(/no backend worker matches this task/);
  });

  it('stops a task at its deadline and publishes what was finished', async () => {
    const { redis, keys, config } = await start({ scripted: { latencyMs: { 'db-worker': 10, 'api-worker': 5000, 'auth-worker': 5000 } } });
    const m = buildTaskMessage({ description: 'Create user registration endpoint', timeoutSeconds: 0.5 }, config.domain);
    await sendTask(redis, keys, m);
    const record = await final(redis, m.task_id);
    expect(record.outcome).toBe('partial');
    expect(record.error).toMatch(/timed out after 0.5s/);
    const output = JSON.parse(record.output!) as TaskOutput;
    expect(output.details['db-worker']?.status).toBe('succeeded');
    expect(output.details['api-worker']?.status).toBe('failed');
  });

  it('cancels a running task on another connection: failed with reason cancelled', async () => {
    const { redis, keys, config } = await start({ scripted: { defaultLatencyMs: 10_000 } });
    const m = buildTaskMessage({ description: 'Create user registration endpoint' }, config.domain);
    await sendTask(redis, keys, m);
    await eventually(async () => ((await redis.exists(keys.checkpoint(m.task_id))) ? true : undefined));
    expect(await cancelTask(redis, keys, 'test', m.task_id)).toBe('running');
    const record = await final(redis, m.task_id, 3000);
    expect(record).toMatchObject({ status: 'failed', error: 'cancelled' });
  });

  it('cancels a queued task: removed from the queue and published failed at once', async () => {
    const { redis, keys, config } = await start({ concurrency: 1, scripted: { defaultLatencyMs: 10_000 } });
    const first = buildTaskMessage({ description: 'Create user registration endpoint' }, config.domain);
    const second = buildTaskMessage({ description: 'Add an index to the orders table' }, config.domain);
    await sendTask(redis, keys, first);
    await eventually(async () => ((await redis.llen(keys.active)) === 1 ? true : undefined));
    await sendTask(redis, keys, second);
    expect(await cancelTask(redis, keys, 'test', second.task_id)).toBe('queued');
    expect(await redis.llen(keys.pending)).toBe(0);
    expect(await final(redis, second.task_id, 3000)).toMatchObject({ status: 'failed', error: 'cancelled' });
    expect(await cancelTask(redis, keys, 'test', 'no-such-task')).toBe('unknown');
  });

  it('publishes one result for a task delivered twice while in flight, and dead-letters the second delivery', async () => {
    const { redis, keys, config } = await start({ scripted: { defaultLatencyMs: 200 } });
    const m = buildTaskMessage({ description: 'Add an index to the orders table' }, config.domain);
    await sendTask(redis, keys, m);
    await eventually(async () => ((await redis.exists(keys.checkpoint(m.task_id))) ? true : undefined));
    await sendTask(redis, keys, m);
    expect((await final(redis, m.task_id)).status).toBe('completed');
    const dead = await eventually(async () => {
      const list = await redis.lrange(keys.deadLetters, 0, -1);
      return list.length ? list : undefined;
    });
    expect(JSON.parse(dead[0]!)).toMatchObject({ task_id: m.task_id, reason: expect.stringMatching(/second delivery/) });
    await eventually(async () => ((await redis.llen(keys.active)) === 0 ? true : undefined));
    const logs = await redis.lrange(`results:${m.task_id}:logs`, 0, -1);
    expect(logs.filter((l) => l.includes('result published'))).toHaveLength(1);
  });
});
