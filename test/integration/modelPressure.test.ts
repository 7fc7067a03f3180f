import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildTaskMessage, sendTask } from '../../src/client/send.ts';
import type { TaskOutput } from '../../src/protocol/output.ts';
import { startFakeMessagesApi, type FakeMessagesApi, type FakeResponse, type RecordedRequest } from '../support/fakeMessagesApi.ts';
import { spawnOrchestrator, type OrchestratorProcess } from '../support/process.ts';
import { client, eventually, freshDomain, redisUrl } from '../support/redis.ts';
import { taskIdOfPrompt } from '../support/prompts.ts';

// Several listener processes on one Redis, their workers talking through the
// real SDK to one fake Messages API: the limits and the breaker are the
// domain's, whatever the number of instances.

const procs: OrchestratorProcess[] = [];
const apis: FakeMessagesApi[] = [];
afterEach(async () => {
  await Promise.all(procs.splice(0).map((p) => p.kill()));
  await Promise.all(apis.splice(0).map((a) => a.close()));
});

const FILES: Record<string, string> = { 'db-worker': 'src/models/x.js', 'auth-worker': 'src/auth/x.js', 'api-worker': 'src/routes/x.js' };
const workerOf = (r: RecordedRequest): string => /You are ([a-z]+-worker)/.exec(JSON.stringify(r.body.system ?? ''))?.[1] ?? 'unknown';
const taskOf = (r: RecordedRequest): string => {
  const content = r.body.messages[0]?.content ?? '';
  const text = typeof content === 'string' ? content : content.map((b) => (b.type === 'text' ? b.text : '')).join('\n');
  return taskIdOfPrompt(text) ?? 'unknown';
};

/** Turn 1 writes the worker's file, turn 2 reports. */
function respond(r: RecordedRequest): FakeResponse {
  const worker = workerOf(r);
  if (r.body.messages.length === 1) {
    return { content: [{ type: 'tool_use', name: 'Write', input: { file_path: FILES[worker], content: `// ${worker}\n` } }], usage: { input_tokens: 1000, output_tokens: 50 } };
  }
  return { content: [{ type: 'text', text: `Done.\n\`\`\`json\n{"summary": "${worker} done", "issues": []}\n\`\`\`` }], usage: { input_tokens: 1100, output_tokens: 40 } };
}

const FAST = ['--heartbeat-ms', '200', '--recovery-ms', '200', '--claim-timeout', '0.1', '--planner', 'keywords', '--model', 'anthropic'];

function setup(api: FakeMessagesApi, extra: string[]) {
  const { domain, keys } = freshDomain();
  const dir = mkdtempSync(join(tmpdir(), 'orch-pressure-'));
  const env = { ANTHROPIC_API_KEY: 'sk-test', ANTHROPIC_BASE_URL: api.url };
  const launch = (n: number) => {
    const p = spawnOrchestrator(['--redis', redisUrl(), '--domain', domain, '--agent-id', `${domain}-${n}`, '--workspace', join(dir, 'ws'), ...FAST, ...extra], env);
    procs.push(p);
    return p;
  };
  return { domain, keys, launch };
}

async function send(redis: ReturnType<typeof client>, keys: ReturnType<typeof freshDomain>['keys'], domain: string, descriptions: string[], timeoutSeconds = 120) {
  const ids: string[] = [];
  for (const description of descriptions) {
    const m = buildTaskMessage({ description, taskId: randomUUID(), timeoutSeconds }, domain);
    await sendTask(redis, keys, m);
    ids.push(m.task_id);
  }
  return ids;
}

async function outputs(redis: ReturnType<typeof client>, ids: string[], ms = 60_000): Promise<TaskOutput[]> {
  return eventually(async () => {
    const records = await Promise.all(ids.map((id) => redis.hgetall(`results:${id}`)));
    if (!records.every((r) => r.status === 'completed' || r.status === 'failed')) return undefined;
    return records.map((r) => JSON.parse(r.output!) as TaskOutput);
  }, ms, 'every task to have a final result');
}

const TASKS = ['Create a REST API for blog posts with authentication', 'Add an index to the orders table', 'Create user registration endpoint'];

describe('the model API under pressure, several instances on one Redis', () => {
  it('a 429 storm with retry-after: requests during the storm stay within the limit, every task completes after it, no finished worker runs again', async () => {
    const api = await startFakeMessagesApi({ fallback: respond, latencyMs: 20 });
    apis.push(api);
    const maxCalls = 3;
    const threshold = 2;
    const { domain, keys, launch } = setup(api, ['--concurrency', '2', '--max-model-calls', String(maxCalls), '--breaker-threshold', String(threshold), '--breaker-cooldown-ms', '200']);
    const redis = client();
    try {
      const instances = [launch(1), launch(2), launch(3)];
      await Promise.all(instances.map((p) => p.ready));
      const ids = await send(redis, keys, domain, [...TASKS, ...TASKS]);
      await eventually(async () => (api.requests.length >= 2 ? true : undefined), 30_000, 'the first model requests');
      await api.spell(1500, { status: 429, headers: { 'retry-after': '0.3' } });
      const probes = Number((await redis.hget(keys.modelBreaker, 'probes')) ?? 0);
      // In flight when it began, the failures that opened the breaker, then one probe per half-open spell.
      expect(api.stats.duringSpell).toBeGreaterThan(0);
      expect(api.stats.duringSpell).toBeLessThanOrEqual(maxCalls + threshold + probes);
      expect(Number(await redis.hget(keys.modelBreaker, 'opened'))).toBeGreaterThanOrEqual(1);

      const results = await outputs(redis, ids);
      for (const out of results) {
        expect(out.status, out.error).toBe('completed');
        for (const detail of Object.values(out.details)) expect(detail.attempts).toBe(1);
      }
      // Each worker of each task was answered exactly twice (write, report): none ran again.
      const answered = new Map<string, number>();
      for (const out of results) for (const w of out.workers_used) answered.set(`${out.task_id} ${w}`, 0);
      expect(api.stats.maxInFlight).toBeLessThanOrEqual(maxCalls);
      expect(api.stats.byStatus.get(200)).toBe(answered.size * 2);
      expect(new Set(api.requests.map((r) => `${taskOf(r)} ${workerOf(r)}`))).toEqual(new Set(answered.keys()));
    } finally {
      await redis.quit();
    }
  }, 120_000);

  it('a 529 spell longer than any retry: the breaker opens, probes once when the spell ends, closes, and the tasks complete', async () => {
    let spellOver = false;
    let probe: { seen: boolean; othersMeanwhile: number } = { seen: false, othersMeanwhile: 0 };
    const api: FakeMessagesApi = await startFakeMessagesApi({
      latencyMs: 10,
      fallback: async (r) => {
        if (spellOver && !probe.seen) {
          // The first request after the spell is the probe: hold it a moment and see whether anyone else got through.
          probe = { seen: true, othersMeanwhile: 0 };
          const before = api.requests.length;
          await new Promise((resolve) => setTimeout(resolve, 300));
          probe.othersMeanwhile = api.requests.length - before;
        }
        return respond(r);
      },
    });
    apis.push(api);
    const { domain, keys, launch } = setup(api, ['--concurrency', '2', '--max-model-calls', '4', '--breaker-threshold', '2', '--breaker-cooldown-ms', '150']);
    const redis = client();
    try {
      const instances = [launch(1), launch(2)];
      await Promise.all(instances.map((p) => p.ready));
      const ids = await send(redis, keys, domain, TASKS);
      await eventually(async () => (api.requests.length >= 1 ? true : undefined), 30_000, 'the first model request');
      await api.spell(2000, { status: 529 });
      spellOver = true;
      const results = await outputs(redis, ids);
      for (const out of results) expect(out.status, out.error).toBe('completed');
      expect(Number(await redis.hget(keys.modelBreaker, 'opened'))).toBeGreaterThanOrEqual(1);
      expect(await redis.hget(keys.modelBreaker, 'state')).toBe('closed');
      expect(probe.seen).toBe(true);
      expect(probe.othersMeanwhile).toBe(0);
      expect(api.stats.byStatus.get(529)).toBeGreaterThan(0);
      const logs = instances.map((p) => p.output()).join('\n');
      expect(logs).toMatch(/circuit breaker open/);
      expect(logs).toMatch(/circuit breaker closed/);
    } finally {
      await redis.quit();
    }
  }, 120_000);

  it('two instances with --max-model-calls 3: the API never sees more than 3 requests at once', async () => {
    const api = await startFakeMessagesApi({ fallback: respond, latencyMs: 60 });
    apis.push(api);
    const { domain, keys, launch } = setup(api, ['--concurrency', '4', '--max-model-calls', '3']);
    const redis = client();
    try {
      const instances = [launch(1), launch(2)];
      await Promise.all(instances.map((p) => p.ready));
      const ids = await send(redis, keys, domain, [...TASKS, ...TASKS]);
      const results = await outputs(redis, ids);
      for (const out of results) expect(out.status, out.error).toBe('completed');
      expect(api.stats.maxInFlight).toBeLessThanOrEqual(3);
      // Enough work to have filled the slots: the limit, not the load, kept it at 3.
      expect(api.stats.maxInFlight).toBeGreaterThanOrEqual(2);
      expect(api.stats.byStatus.get(429) ?? 0).toBe(0);
      expect(await redis.zcard(keys.modelLeases)).toBe(0);
    } finally {
      await redis.quit();
    }
  }, 120_000);
});
