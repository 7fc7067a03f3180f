import { describe, expect, it } from 'vitest';
import { buildTaskMessage, sendTask } from '../../src/client/send.ts';
import { readOverview } from '../../src/client/overview.ts';
import type { TaskOutput } from '../../src/protocol/output.ts';
import { startFakeMessagesApi } from '../support/fakeMessagesApi.ts';
import { startTestOrchestrator } from '../support/orchestrator.ts';
import { client, eventually } from '../support/redis.ts';

describe('a task in flight while the model API is down', () => {
  it('waits (visible in watch), is neither failed nor retried before its deadline, and then fails with "model API unavailable for N s"', async () => {
    const api = await startFakeMessagesApi({ fallback: { status: 529 } });
    const { orchestrator, config, keys } = await startTestOrchestrator(
      { model: undefined, planner: 'keywords', breakerThreshold: 1, breakerCooldownMs: 60_000 },
      {},
      { ANTHROPIC_API_KEY: 'sk-test', ANTHROPIC_BASE_URL: api.url },
    );
    const redis = client();
    try {
      const m = buildTaskMessage({ description: 'Add an index to the orders table', timeoutSeconds: 3 }, config.domain);
      await sendTask(redis, keys, m);
      const overview = await eventually(async () => {
        const o = await readOverview(redis, keys, config.domain);
        return o.tasks[0]?.workers[0]?.waitingFor === 'breaker_open' && o.modelApi.breaker === 'open' ? o : undefined;
      }, 10_000, 'the worker waiting behind the open breaker');
      expect(overview.tasks[0]?.workers[0]?.state).toBe('waiting_for_model');
      const record = await eventually(async () => {
        const r = await redis.hgetall(`results:${m.task_id}`);
        return r.status === 'failed' ? r : undefined;
      }, 20_000, 'the result at the deadline');
      const out = JSON.parse(record.output!) as TaskOutput;
      expect(record.error).toMatch(/timed out after 3s: model API unavailable for \d+ s/);
      expect(out.reason).toBe('model_api_unavailable');
      // One request opened the breaker; nothing more was sent while it stayed open (no retry storm).
      expect(api.requests).toHaveLength(1);
      expect(out.details['db-worker']?.error).toMatch(/model API unavailable/);
    } finally {
      await orchestrator.stop();
      await redis.quit();
      await api.close();
    }
  }, 40_000);
});
