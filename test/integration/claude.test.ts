import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildTaskMessage, sendTask } from '../../src/client/send.ts';
import type { TaskOutput } from '../../src/protocol/output.ts';
import { runCli } from '../support/cli.ts';
import { startFakeMessagesApi, type FakeResponse, type RecordedRequest } from '../support/fakeMessagesApi.ts';
import { startTestOrchestrator } from '../support/orchestrator.ts';
import { client, eventually, redisUrl } from '../support/redis.ts';

// The whole Claude path, end to end: the CLI's `send --wait` against a
// listener whose planner and workers talk through the real SDK to a fake
// Messages API server on loopback.

const FILES: Record<string, string> = {
  'db-worker': 'src/models/user.js',
  'auth-worker': 'src/auth/password.js',
  'api-worker': 'src/routes/users.js',
};

function workerOf(request: RecordedRequest): string {
  const system = JSON.stringify(request.body.system ?? '');
  return /You are ([a-z]+-worker)/.exec(system)?.[1] ?? 'unknown';
}

const isPlanner = (request: RecordedRequest) => JSON.stringify(request.body.system ?? '').includes('You plan backend tasks');

function respond(request: RecordedRequest): FakeResponse {
  if (isPlanner(request)) {
    const plan = {
      steps: [
        { worker: 'db-worker', instructions: 'User model with email and password_hash', depends_on: [], critical: true, reason: 'account' },
        { worker: 'auth-worker', instructions: 'hashPassword and issueToken', depends_on: ['db-worker'], critical: false, reason: 'register' },
        { worker: 'api-worker', instructions: 'POST /api/users/register', depends_on: ['db-worker'], critical: false, reason: 'endpoint' },
      ],
    };
    // The default model (the current Sonnet) answers in JSON under the plan's schema (structured outputs).
    return { content: [{ type: 'text', text: JSON.stringify(plan) }], usage: { input_tokens: 400, output_tokens: 120 } };
  }
  const worker = workerOf(request);
  const turn = request.body.messages.length;
  if (turn === 1) {
    return {
      content: [
        { type: 'text', text: `Writing ${FILES[worker]}.` },
        { type: 'tool_use', name: 'Write', input: { file_path: FILES[worker], content: `// written by ${worker}\n` } },
      ],
      usage: { input_tokens: 1000, output_tokens: 50, cache_creation_input_tokens: 900 },
    };
  }
  return {
    content: [{ type: 'text', text: `Done.\n\`\`\`json\n{"summary": "${worker} wrote ${FILES[worker]}", "issues": []}\n\`\`\`` }],
    usage: { input_tokens: 1100, output_tokens: 40, cache_read_input_tokens: 900 },
  };
}

describe('Claude workers end to end', () => {
  it('send --wait yields a completed result whose files were written by tool calls, with token usage', async () => {
    const api = await startFakeMessagesApi({ strict: true });
    for (let i = 0; i < 10; i++) api.enqueue(respond);
    const { orchestrator, config } = await startTestOrchestrator({ model: undefined }, {}, {
      ANTHROPIC_API_KEY: 'sk-test',
      ANTHROPIC_BASE_URL: api.url,
    });
    try {
      expect(config.model).toBe('anthropic');
      expect(config.planner).toBe('llm');
      const run = await runCli(['send', 'Create user registration endpoint', '--wait', '--timeout', '60', '--redis', redisUrl(), '--domain', config.domain]);
      expect(run.status, run.stderr).toBe(0);
      expect(run.stderr).toMatch(/plan \(llm\): db-worker/);
      const output = JSON.parse(run.stdout) as TaskOutput;
      expect(output.status).toBe('completed');
      expect(api.refused).toEqual([]);
      expect([...output.files_created].sort()).toEqual(Object.values(FILES).sort());
      for (const f of output.files_created) {
        expect(readFileSync(join(output.workspace!, f), 'utf8')).toMatch(/written by/);
      }
      expect(existsSync(join(output.workspace!, '..', 'src'))).toBe(false);
      // 3 workers x (1000 + 1100) input tokens; the planner's call is its own.
      expect(output.usage).toMatchObject({ input_tokens: 6300, output_tokens: 270, cache_read_input_tokens: 2700, cache_creation_input_tokens: 2700 });
      expect(output.details['db-worker']?.usage?.input_tokens).toBe(2100);
      const workerCalls = api.requests.filter((r) => !isPlanner(r));
      expect(workerCalls).toHaveLength(6);
      for (const r of workerCalls) {
        expect(r.headers.authorization ?? r.headers['x-api-key']).toBeTruthy();
        const tools = r.body.tools ?? [];
        expect(tools.at(-1)).toHaveProperty('cache_control');
      }
    } finally {
      await orchestrator.stop();
      await api.close();
    }
  }, 60_000);

  it('a task deadline aborts the model request that is under way', async () => {
    const api = await startFakeMessagesApi();
    api.enqueue({ stall: true });
    const { orchestrator, config, keys } = await startTestOrchestrator({ model: undefined, planner: 'keywords' }, {}, {
      ANTHROPIC_API_KEY: 'sk-test',
      ANTHROPIC_BASE_URL: api.url,
    });
    const redis = client();
    try {
      const m = buildTaskMessage({ description: 'Add an index to the orders table', timeoutSeconds: 1 }, config.domain);
      await sendTask(redis, keys, m);
      await eventually(async () => (api.requests.length ? true : undefined), 5000, 'the model request');
      // The request stalls; at the deadline the worker actor stops and its signal closes the connection.
      await api.requests[0]!.closed;
      const record = await eventually(async () => {
        const r = await redis.hgetall(`results:${m.task_id}`);
        return r.status === 'failed' ? r : undefined;
      });
      expect(record.error).toMatch(/timed out after 1s/);
    } finally {
      await orchestrator.stop();
      await redis.quit();
      await api.close();
    }
  }, 30_000);
});
