import { describe, expect, it } from 'vitest';
import type { InspectionEvent } from 'xstate';
import { buildTaskMessage, sendTask } from '../../src/client/send.ts';
import { readOverview } from '../../src/client/overview.ts';
import { renderOverview } from '../../src/cli/render.ts';
import type { TaskOutput } from '../../src/protocol/output.ts';
import { startFakeMessagesApi, type FakeResponse, type RecordedRequest } from '../support/fakeMessagesApi.ts';
import { startTestOrchestrator } from '../support/orchestrator.ts';
import { client, eventually } from '../support/redis.ts';

// Sonnet 4.6 (mapped to the sonnet alias below) at $3 per million input tokens: 10,000 input tokens a call is 3 cents.
const CALL_USD = 0.03;

const workerOf = (r: RecordedRequest): string => /You are ([a-z]+-worker)/.exec(JSON.stringify(r.body.system ?? ''))?.[1] ?? 'unknown';

/** db-worker writes its model and reports (cheaply); api and auth keep calling tools and never finish. */
function respond(r: RecordedRequest): FakeResponse {
  if (workerOf(r) === 'db-worker') {
    if (r.body.messages.length === 1) {
      return { content: [{ type: 'tool_use', name: 'Write', input: { file_path: 'src/models/post.js', content: '// post\n' } }], usage: { input_tokens: 1000, output_tokens: 0 } };
    }
    return { content: [{ type: 'text', text: 'Done.\n```json\n{"summary": "post model", "issues": []}\n```' }], usage: { input_tokens: 1000, output_tokens: 0 } };
  }
  return { content: [{ type: 'tool_use', name: 'Glob', input: { pattern: '**/*.js' } }], usage: { input_tokens: 10_000, output_tokens: 0 } };
}

describe('budgets as guards', () => {
  it('a task whose workers keep calling tools stops at its budget: reason budget, spend in the output, finished work kept, workers through budgetExceeded', async () => {
    const api = await startFakeMessagesApi({ fallback: respond });
    const workerStates: string[] = [];
    const inspect = (e: InspectionEvent) => {
      if (e.type !== '@xstate.snapshot') return;
      const snap = e.snapshot as { machine?: { id?: string }; value?: unknown; context?: { step?: { worker?: string } } };
      if (snap.machine?.id === 'worker') workerStates.push(`${snap.context?.step?.worker} ${JSON.stringify(snap.value)}`);
    };
    const { orchestrator, config, keys } = await startTestOrchestrator(
      { model: undefined, planner: 'keywords', metricsPort: 0, anthropic: { models: { sonnet: 'claude-sonnet-4-6' } } },
      { inspect },
      { ANTHROPIC_API_KEY: 'sk-test', ANTHROPIC_BASE_URL: api.url },
    );
    const redis = client();
    try {
      const budget = 0.1;
      const m = buildTaskMessage({ description: 'Create a REST API for blog posts with authentication' }, config.domain);
      await sendTask(redis, keys, { ...m, metadata: { ...m.metadata, budget_usd: budget } });
      const record = await eventually(async () => {
        const r = await redis.hgetall(`results:${m.task_id}`);
        return r.status === 'failed' ? r : undefined;
      }, 30_000, 'the result');
      const out = JSON.parse(record.output!) as TaskOutput;
      expect(out.outcome).toBe('partial');
      expect(out.reason).toBe('budget');
      expect(record.error).toMatch(/budget/);
      // db-worker finished before the budget ran out: its work stays.
      expect(out.details['db-worker']?.status).toBe('succeeded');
      expect(out.files_created).toContain('src/models/post.js');
      for (const w of ['api-worker', 'auth-worker'] as const) {
        expect(out.details[w]?.status).toBe('failed');
        expect(out.details[w]?.error).toMatch(/^budget: /);
        expect(out.details[w]?.attempts).toBe(1);
        expect(out.details[w]?.usage?.cost_usd).toBeGreaterThan(0);
      }
      // Spend: db's two calls (1000 input tokens each) plus the looping calls; never more than one call per worker past the budget.
      const db = 2 * 1000 * 3e-6;
      expect(out.details['db-worker']?.usage?.cost_usd).toBeCloseTo(db, 9);
      const loops = api.requests.filter((r) => workerOf(r) !== 'db-worker').length;
      expect(out.usage?.cost_usd).toBeCloseTo(db + loops * CALL_USD, 6);
      expect(out.usage!.cost_usd).toBeLessThanOrEqual(budget + 2 * CALL_USD);
      expect(out.usage!.cost_usd).toBeGreaterThan(budget - 2 * CALL_USD);
      // Each stopped worker's machine took the budgetExceeded transition.
      expect(workerStates).toContain('api-worker "budgetExceeded"');
      expect(workerStates).toContain('auth-worker "budgetExceeded"');
      expect(workerStates).not.toContain('api-worker "retrying"');

      const metrics = await (await fetch(`${orchestrator.http!.url}/metrics`)).text();
      const line = metrics.split('\n').find((l) => l.startsWith('orchestrator_cost_usd_total{worker="api-worker",model="claude-sonnet-4-6"}'));
      expect(Number(line?.split(' ')[1])).toBeCloseTo((loops / 2) * CALL_USD, 1);

      // The instance's total is written at most once a second, in one command.
      const overview = await eventually(async () => {
        const o = await readOverview(redis, keys, config.domain);
        return Math.abs((o.instances[0]?.spendUsd ?? 0) - out.usage!.cost_usd!) < 1e-5 ? o : undefined;
      }, 5000, "the instance's spend");
      expect(overview.instances[0]?.spendUsd).toBeCloseTo(out.usage!.cost_usd!, 5);
      expect(renderOverview(overview).join('\n')).toMatch(/\$0\.\d{4} spent/);
    } finally {
      await orchestrator.stop();
      await redis.quit();
      await api.close();
    }
  }, 60_000);

  it('a task message with a budget that is not a positive number is rejected with a clear reason', async () => {
    const { orchestrator, config, keys } = await startTestOrchestrator();
    const redis = client();
    try {
      const m = buildTaskMessage({ description: 'Add an index to the orders table' }, config.domain);
      await sendTask(redis, keys, { ...m, metadata: { ...m.metadata, budget_usd: -1 } } as never);
      const record = await eventually(async () => {
        const r = await redis.hgetall(`results:${m.task_id}`);
        return r.status === 'failed' ? r : undefined;
      });
      expect(record.error).toMatch(/budget_usd/);
    } finally {
      await orchestrator.stop();
      await redis.quit();
    }
  });
});
