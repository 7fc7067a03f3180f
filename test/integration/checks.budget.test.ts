import { describe, expect, it } from 'vitest';
import { buildTaskMessage, sendTask } from '../../src/client/send.ts';
import { FIX_ROUND_HEADING } from '../../src/protocol/checks.ts';
import type { TaskOutput } from '../../src/protocol/output.ts';
import { startFakeMessagesApi, type FakeResponse, type RecordedRequest } from '../support/fakeMessagesApi.ts';
import { startTestOrchestrator } from '../support/orchestrator.ts';
import { client, eventually } from '../support/redis.ts';

// A fix round is an ordinary worker run: through the guarded model and the
// task's budget. Here the real SDK talks to the fake Messages API: the first
// run is cheap, the fix round keeps calling tools until the budget stops it.

const firstText = (r: RecordedRequest): string => JSON.stringify(r.body.messages[0]?.content ?? '');

function respond(r: RecordedRequest): FakeResponse {
  if (firstText(r).includes(FIX_ROUND_HEADING)) {
    return { content: [{ type: 'tool_use', name: 'Glob', input: { pattern: '**/*' } }], usage: { input_tokens: 10_000, output_tokens: 0 } };
  }
  if (r.body.messages.length === 1) {
    return { content: [{ type: 'tool_use', name: 'Write', input: { file_path: 'src/models/post.js', content: '// post\n' } }], usage: { input_tokens: 1000, output_tokens: 0 } };
  }
  return { content: [{ type: 'text', text: 'Done.\n```json\n{"summary": "post model", "issues": []}\n```' }], usage: { input_tokens: 1000, output_tokens: 0 } };
}

describe('budgets in a fix round', () => {
  it('a fix round that reaches the task budget stops there: no more rounds, the failing check stands, reason budget', async () => {
    const api = await startFakeMessagesApi({ fallback: respond });
    const { orchestrator, config, keys } = await startTestOrchestrator(
      { model: undefined, planner: 'keywords', anthropic: { models: { sonnet: 'claude-sonnet-4-6' } }, verify: ['test -f FIXED || { echo missing FIXED; exit 1; }'], fixRounds: 3 },
      {},
      { ANTHROPIC_API_KEY: 'sk-test', ANTHROPIC_BASE_URL: api.url },
    );
    const redis = client();
    try {
      const m = buildTaskMessage({ description: 'Add a database table for posts' }, config.domain);
      await sendTask(redis, keys, { ...m, metadata: { ...m.metadata, budget_usd: 0.1 } });
      const record = await eventually(async () => {
        const r = await redis.hgetall(`results:${m.task_id}`);
        return r.status === 'completed' || r.status === 'failed' ? r : undefined;
      }, 30_000, 'the result');
      const out = JSON.parse(record.output!) as TaskOutput;
      expect(out.reason).toBe('budget');
      expect(out.outcome).toBe('completed_with_warnings');
      // Checked once, then the fix round ran out of budget: the checks did not run again, no second round began.
      expect(out.checks).toEqual([expect.objectContaining({ passed: false, exit_code: 1, rounds: 1 })]);
      expect(out.issues.join('\n')).toMatch(/fix round 1 failed: budget/);
      // The first run's two calls (0.6 cents) and the fix round's three at 3 cents: the one that would pass $0.10 is refused.
      expect(out.usage!.cost_usd).toBeCloseTo(0.096, 6);
      expect(out.usage!.cost_usd).toBeLessThanOrEqual(0.1);
      const fixCalls = api.requests.filter((r) => firstText(r).includes(FIX_ROUND_HEADING));
      expect(fixCalls.length).toBeGreaterThan(0);
      expect(new Set(fixCalls.map((r) => firstText(r).match(/Fix round (\d+)/)?.[1]))).toEqual(new Set(['1']));
    } finally {
      await redis.quit();
      await orchestrator.stop();
      await api.close();
    }
  }, 60_000);
});
