import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import type { Plan } from '../../src/protocol/plan.ts';
import type { TaskOutput } from '../../src/protocol/output.ts';
import type { TaskRef } from '../../src/protocol/taskRef.ts';
import { dbThenApiAuth, step, workerResult } from '../support/fixtures.ts';
import { startTestListener } from '../support/listener.ts';
import { client, eventually, freshDomain, redisUrl } from '../support/redis.ts';

const WIRE = resolve(import.meta.dirname, '../../../shared/fixtures/wire');
const fixture = (name: string, taskId: string): string =>
  readFileSync(resolve(WIRE, name), 'utf8').replace(/"task_id":\s*"[^"]+"/, (m) => m.replace(/"[^"]+"$/, `"${taskId}"`));

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

function setup(over: Partial<Parameters<typeof startTestListener>[0]> = {}) {
  const { domain, keys } = freshDomain();
  const redis = client();
  const listener = startTestListener({
    redisUrl: redisUrl(),
    domain,
    keys,
    plan: () => dbThenApiAuth,
    runAgent: async (input) => workerResult(input.step.worker),
    ...over,
  });
  cleanups.push(async () => redis.quit(), () => listener.stop());
  return { domain, keys, redis, listener };
}

/** Pushes the way the peers do: the task first, the `pending` record a moment later. */
async function pushLikePeer(redis: Redis, queue: string, raw: string, taskId: string | undefined, gapMs = 5) {
  await redis.lpush(queue, raw);
  if (taskId === undefined) return;
  await new Promise((r) => setTimeout(r, gapMs));
  await redis.hset(`results:${taskId}`, 'task_id', taskId, 'status', 'pending');
}

const finalRecord = (redis: Redis, taskId: string) =>
  eventually(async () => {
    const r = await redis.hgetall(`results:${taskId}`);
    return r.status === 'completed' || r.status === 'failed' ? r : undefined;
  }, 10_000, `a final status on results:${taskId}`);

describe('listener on a real Redis', () => {
  it.each([
    ['task-from-python-lib.json'],
    ['task-from-shell-cli.json'],
  ])('turns the wire fixture %s into a completed result a peer can read, and clears the active list', async (name) => {
    const { redis, keys } = setup();
    const id = randomUUID();
    const sub = client();
    cleanups.push(async () => sub.quit());
    const messages: string[] = [];
    await sub.subscribe(`results:${id}`);
    sub.on('message', (_channel, message) => messages.push(message));
    await pushLikePeer(redis, keys.pending, fixture(name, id), id);
    const record = await finalRecord(redis, id);
    expect(record.status).toBe('completed');
    expect(record.outcome).toBe('completed');
    expect(record.started_at).toMatch(/^\d{4}-\d\d-\d\dT.*Z$/);
    expect(record.completed_at).toMatch(/^\d{4}-\d\d-\d\dT.*Z$/);
    expect(record.error).toBeUndefined();
    const output = JSON.parse(record.output!) as TaskOutput;
    expect(output.status).toBe('completed');
    expect(output.workers_used.sort()).toEqual(['api-worker', 'auth-worker', 'db-worker']);
    await eventually(async () => (messages.length ? true : undefined), 2000, 'the result message');
    const published = JSON.parse(messages[0]!) as Record<string, string>;
    expect(Object.keys(published).sort()).toEqual(['completed_at', 'output', 'status']);
    expect(published.status).toBe('completed');
    expect(await redis.llen(keys.active)).toBe(0);
    const logs = await redis.lrange(`results:${id}:logs`, 0, -1);
    expect(logs[0]).toMatch(/^\[\d{4}-\d\d-\d\dT[\d:.]+Z\] claimed by /);
    expect(logs.at(-1)).toMatch(/result published: completed/);
  });

  it('still ends completed when it finishes inside the gap before the producer writes pending', async () => {
    const { redis, keys, listener } = setup();
    const id = randomUUID();
    const raw = fixture('task-from-python-lib.json', id);
    await redis.lpush(keys.pending, raw);
    // The listener finishes its workers; only then does the producer's record come.
    const logs = () => redis.lrange(`results:${id}:logs`, 0, -1);
    await eventually(async () => {
      const lines = await logs();
      return ['db-worker', 'api-worker', 'auth-worker'].every((w) => lines.some((l) => l.includes(`${w} succeeded`))) ? true : undefined;
    }, 10_000, 'every worker to have succeeded');
    expect((await redis.hgetall(`results:${id}`)).status).not.toBe('completed');
    await redis.hset(`results:${id}`, 'task_id', id, 'status', 'pending');
    const record = await finalRecord(redis, id);
    expect(record.status).toBe('completed');
    await listener.stop(); // nothing the listener still had under way can write after this
    expect((await redis.hgetall(`results:${id}`)).status).toBe('completed');
  });

  it('a task id sent again after a failed run ends completed without the old error field', async () => {
    const { redis, keys } = setup();
    const id = randomUUID();
    // What the first run left: claimed (started_at), published failed with an error.
    await redis.hset(`results:${id}`, { task_id: id, status: 'failed', error: 'the first run failed', started_at: new Date().toISOString() });
    await redis.lpush(keys.pending, fixture('task-from-python-lib.json', id));
    const record = await eventually(async () => {
      const r = await redis.hgetall(`results:${id}`);
      return r.status === 'completed' ? r : undefined;
    }, 10_000, 'the completed result');
    expect(record.error).toBeUndefined();
    expect(record.outcome).toBe('completed');
  });

  it('writes the result anyway after the grace when the producer never creates the record', async () => {
    const { redis, keys } = setup({ resultGraceMs: 200 });
    const id = randomUUID();
    await redis.lpush(keys.pending, fixture('task-from-python-lib.json', id));
    const record = await finalRecord(redis, id);
    expect(record).toMatchObject({ task_id: id, status: 'completed' });
  });

  it('runs three tasks at once with concurrency 3', async () => {
    let inFlight = 0;
    let peak = 0;
    const single: Plan = { source: 'keywords', steps: [step('api-worker')], notes: [] };
    const { redis, keys } = setup({
      concurrency: 3,
      plan: () => single,
      runAgent: async (input) => {
        peak = Math.max(peak, ++inFlight);
        await new Promise((r) => setTimeout(r, 150));
        inFlight--;
        return workerResult(input.step.worker);
      },
    });
    const ids = [randomUUID(), randomUUID(), randomUUID()];
    for (const id of ids) await pushLikePeer(redis, keys.pending, fixture('task-from-python-lib.json', id), id, 0);
    const records = await Promise.all(ids.map((id) => finalRecord(redis, id)));
    expect(records.map((r) => r.status)).toEqual(['completed', 'completed', 'completed']);
    expect(peak).toBe(3);
  });

  it('publishes failed for malformed JSON with a recoverable id, dead-letters the raw text, and goes on', async () => {
    const { redis, keys, listener } = setup();
    const bad = randomUUID();
    const good = randomUUID();
    const raw = fixture('task-from-shell-cli-with-quotes.malformed.json', bad);
    await pushLikePeer(redis, keys.pending, raw, bad);
    await pushLikePeer(redis, keys.pending, '{"no": "task id here"', undefined);
    await pushLikePeer(redis, keys.pending, fixture('task-from-python-lib.json', good), good);
    const failed = await finalRecord(redis, bad);
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatch(/not valid JSON/);
    expect((await finalRecord(redis, good)).status).toBe('completed');
    const dead = await eventually(async () => {
      const list = await redis.lrange(keys.deadLetters, 0, -1);
      return list.length === 2 ? list.map((x) => JSON.parse(x) as { raw: string; reason: string; task_id: string | null }) : undefined;
    });
    expect(dead.map((d) => d.raw)).toContain(raw);
    expect(dead.find((d) => d.task_id === null)?.reason).toMatch(/not valid JSON/);
    expect(await redis.llen(keys.active)).toBe(0);
    expect(listener.actor.getSnapshot().status).toBe('active');
    expect(listener.errors).toEqual([]);
  });

  it("names a task by its id everywhere, and a message with no id by its raw- key: checkpoint, log lines, no results:{id}", async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
    // What each publication finds in Redis just before it goes out: the task's ref, and the checkpoint it names.
    const seen: { ref: TaskRef; checkpoint: Record<string, string> }[] = [];
    const reader = client();
    cleanups.push(async () => reader.quit());
    const { redis, keys, listener } = setup({
      logger,
      beforePublish: async (result) => {
        seen.push({ ref: result.ref, checkpoint: await reader.hgetall(keys.checkpoint(result.ref.key)) });
        return result;
      },
    });
    const good = randomUUID();
    const raw = `{"no": "task id here ${randomUUID()}"`;
    const rawKey = `raw-${createHash('sha1').update(raw).digest('hex')}`;
    await pushLikePeer(redis, keys.pending, raw, undefined);
    await pushLikePeer(redis, keys.pending, fixture('task-from-python-lib.json', good), good);
    expect((await finalRecord(redis, good)).status).toBe('completed');
    const dead = await eventually(async () => {
      const list = (await redis.lrange(keys.deadLetters, 0, -1)).map((x) => JSON.parse(x) as { raw: string; task_id: string | null });
      return list.length ? list : undefined;
    });

    // No id: checkpointed (and published from) under its raw- key, dead-lettered, and no results:{id} anywhere.
    const rejected = seen.find((s) => s.ref.key === rawKey);
    expect(rejected?.ref).toEqual({ key: rawKey, id: undefined });
    expect(rejected?.checkpoint).toMatchObject({ raw, owner: listener.agentId });
    expect(dead).toEqual([expect.objectContaining({ raw, task_id: null })]);
    expect(await redis.exists(`results:${rawKey}`, `results:${rawKey}:logs`, 'results:', 'results::logs')).toBe(0);
    expect(await redis.exists(keys.checkpoint(rawKey))).toBe(0);
    // Its log lines are still written, naming it by that key.
    const deadLettered = await eventually(async () => lines.find((l) => l.msg === 'message dead-lettered'));
    expect(deadLettered).toMatchObject({ claim: rawKey });
    expect(deadLettered).not.toHaveProperty('task_id');

    // An id: the same string names its checkpoint, its results record and log, and its log lines.
    expect(seen.find((s) => s.ref.id === good)).toMatchObject({ ref: { key: good, id: good }, checkpoint: { owner: listener.agentId } });
    expect((await redis.lrange(`results:${good}:logs`, 0, -1)).at(-1)).toMatch(/result published: completed/);
    const ofGood = lines.filter((l) => l.task_id === good);
    expect(ofGood.map((l) => l.msg)).toEqual(expect.arrayContaining(['task planned', 'worker started', 'worker succeeded', 'result published']));
    expect(lines.filter((l) => l.claim !== undefined && l.claim !== rawKey)).toEqual([]);
  });

  it('rejects a valid JSON message without a description with a failed result naming the field', async () => {
    const { redis, keys } = setup();
    const id = randomUUID();
    await pushLikePeer(redis, keys.pending, JSON.stringify({ task_id: id, payload: { requirements: [] } }), id);
    const record = await finalRecord(redis, id);
    expect(record.status).toBe('failed');
    expect(record.error).toMatch(/payload\.description/);
  });

  it('registers with a heartbeat while running and deregisters on stop', async () => {
    const { redis, keys, listener, domain } = setup({ heartbeatIntervalMs: 100 });
    const id = listener.agentId;
    const info = await eventually(async () => {
      const h = await redis.hgetall(keys.agentInfo(id));
      return h.status === 'active' ? h : undefined;
    });
    expect(info).toMatchObject({ agent_id: id, role: 'domain', domain_type: domain });
    expect(await redis.sismember('agents:all', id)).toBe(1);
    expect(await redis.sismember('agents:domains', id)).toBe(1);
    expect(await redis.sismember(`agents:domains:${domain}`, id)).toBe(1);
    const ttl = await redis.ttl(keys.agentHeartbeat(id));
    expect(ttl).toBeGreaterThan(0);
    const first = info.last_heartbeat;
    await eventually(async () => ((await redis.hget(keys.agentInfo(id), 'last_heartbeat')) !== first ? true : undefined), 2000, 'a heartbeat');
    await listener.stop();
    expect(await redis.exists(keys.agentInfo(id), keys.agentHeartbeat(id))).toBe(0);
    expect(await redis.sismember('agents:all', id)).toBe(0);
    expect(await redis.sismember(`agents:domains:${domain}`, id)).toBe(0);
  });

  it('on STOP lets the task in flight finish before it stops', async () => {
    const { redis, keys, listener } = setup({
      runAgent: async (input) => {
        await new Promise((r) => setTimeout(r, 200));
        return workerResult(input.step.worker);
      },
    });
    const id = randomUUID();
    await pushLikePeer(redis, keys.pending, fixture('task-from-python-lib.json', id), id);
    // The producer's late `pending` may hide `in_progress`: watch the progress log instead.
    await eventually(async () => ((await redis.lrange(`results:${id}:logs`, 0, -1)).some((l) => l.includes('db-worker started')) ? true : undefined));
    await listener.stop();
    expect(await redis.hget(`results:${id}`, 'status')).toBe('completed');
    expect(await redis.llen(keys.active)).toBe(0);
  });
});
