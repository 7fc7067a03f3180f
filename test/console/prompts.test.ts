import { describe, expect, it } from 'vitest';
import { buildTaskMessage, sendTask } from '../../src/client/send.ts';
import { loadConfig } from '../../src/config.ts';
import { ConfigError } from '../../src/errors.ts';
import { readTaskDetail } from '../../src/console/taskDetail.ts';
import { parsePrompts } from '../../src/redis/prompts.ts';
import { startTestOrchestrator } from '../support/orchestrator.ts';
import { cleanupsAfterEach, client, eventually } from '../support/redis.ts';

const cleanups = cleanupsAfterEach();

// Not shaped like an Anthropic key: only the exact-value scrubbing can catch it.
const SECRET = 'own-api-key-value-0042';

describe("workers' prompts kept for the console", () => {
  it('stores each worker prompt as sent, scrubbed of our secrets, with a TTL, readable after publication', async () => {
    const retention = 3600;
    const t = await startTestOrchestrator({ anthropic: { apiKey: SECRET }, promptRetentionSeconds: retention });
    cleanups.push(() => t.orchestrator.stop());
    const redis = client();
    cleanups.push(async () => redis.disconnect());
    // Any text can be a task id: the key is binary-safe, like the checkpoint's.
    const m = buildTaskMessage(
      { taskId: 'odd id: ü/<b>*?', description: `Create a REST API for blog posts with authentication, token ${SECRET}` },
      t.config.domain,
    );
    await sendTask(redis, t.keys, m);
    await eventually(async () => ((await redis.hget(t.keys.result(m.task_id), 'status')) === 'completed' ? true : undefined), 20_000, 'the result');

    const key = t.keys.prompts(m.task_id);
    expect(key).toBe(`orch:${t.config.domain}:prompts:${m.task_id}`);
    const prompts = parsePrompts(await redis.hgetall(key));
    expect(Object.keys(prompts).sort()).toEqual(['api-worker', 'auth-worker', 'db-worker']);
    for (const [worker, p] of Object.entries(prompts)) {
      expect(p.attempt).toBe(1);
      expect(p.prompt).toContain(`## Your part (${worker})`);
      expect(p.prompt).toContain('blog posts');
      expect(p.prompt).toContain('token [redacted]');
      expect(p.prompt).not.toContain(SECRET);
    }
    const ttl = await redis.ttl(key);
    expect(ttl).toBeGreaterThan(retention - 120);
    expect(ttl).toBeLessThanOrEqual(retention);

    // The checkpoint is gone with the publication; the page still has the prompts.
    expect(await redis.exists(t.keys.checkpoint(m.task_id))).toBe(0);
    const detail = await readTaskDetail(redis, t.keys, m.task_id);
    expect(detail?.state).toBe('completed');
    const db = detail?.workers.find((w) => w.worker === 'db-worker');
    expect(db?.prompt).toBe(prompts['db-worker']!.prompt);
    expect(db?.promptAttempt).toBe(1);
  }, 60_000);

  it("keeps the latest attempt's prompt of a worker that is retried, for a failed task too", async () => {
    const t = await startTestOrchestrator({ scripted: { fail: ['auth-worker'] }, workerAttempts: 2 });
    cleanups.push(() => t.orchestrator.stop());
    const redis = client();
    cleanups.push(async () => redis.disconnect());
    const m = buildTaskMessage({ description: 'Add login with password hashing' }, t.config.domain);
    await sendTask(redis, t.keys, m);
    await eventually(async () => ((await redis.hget(t.keys.result(m.task_id), 'completed_at')) ? true : undefined), 20_000, 'the result');
    const auth = parsePrompts(await redis.hgetall(t.keys.prompts(m.task_id)))['auth-worker'];
    expect(auth?.attempt).toBe(2);
    expect(auth?.prompt).toContain('## Your part (auth-worker)');
    const detail = await readTaskDetail(redis, t.keys, m.task_id);
    expect(detail?.workers.find((w) => w.worker === 'auth-worker')?.promptAttempt).toBe(2);
  }, 60_000);

  it('leaves out a damaged entry rather than failing the page', () => {
    const good = JSON.stringify({ attempt: 2, at: 1, prompt: 'hello' });
    expect(parsePrompts({ 'db-worker': good, 'api-worker': '{not json', 'auth-worker': '{"attempt":1}' })).toEqual({
      'db-worker': { attempt: 2, at: 1, prompt: 'hello' },
    });
  });

  it('refuses a retention that is not a number of seconds, naming the option', () => {
    expect(() => loadConfig({ promptRetentionSeconds: 0 }, {})).toThrow(ConfigError);
    expect(() => loadConfig({ promptRetentionSeconds: 0 }, {})).toThrow(/promptRetentionSeconds/);
    expect(loadConfig({}, {}).promptRetentionSeconds).toBe(604_800);
  });
});
