import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildTaskMessage, sendTask } from '../../src/client/send.ts';
import type { ConfigInput } from '../../src/config.ts';
import type { TaskOutput } from '../../src/protocol/output.ts';
import { startFakeMessagesApi, type FakeMessage, type FakeMessagesApi, type RecordedRequest } from '../support/fakeMessagesApi.ts';
import { startTestOrchestrator } from '../support/orchestrator.ts';
import { client, eventually } from '../support/redis.ts';

// The listener, its LLM planner and its workers through the real SDK against the strict fake
// Messages API, which answers 400 to any request the model's documentation says it refuses.

const FILES: Record<string, string> = { 'db-worker': 'src/models/user.js', 'auth-worker': 'src/auth/password.js', 'api-worker': 'src/routes/users.js' };
const isPlanner = (r: RecordedRequest) => JSON.stringify(r.body.system ?? '').includes('You plan backend tasks');
const workerOf = (r: RecordedRequest) => /You are ([a-z]+-worker)/.exec(JSON.stringify(r.body.system ?? ''))?.[1] ?? 'unknown';

const plan = (critical: boolean) => ({
  steps: [
    { worker: 'db-worker', instructions: 'User model', depends_on: [], critical, reason: 'accounts' },
    { worker: 'auth-worker', instructions: 'hashPassword', depends_on: critical ? ['db-worker'] : [], critical: false, reason: 'register' },
    { worker: 'api-worker', instructions: 'POST /api/users/register', depends_on: critical ? ['db-worker'] : [], critical: false, reason: 'endpoint' },
  ],
});

const write = (worker: string): FakeMessage['content'][number] => ({ type: 'tool_use', name: 'Write', input: { file_path: FILES[worker], content: `// ${worker}\n` } });
const report = (worker: string) => ({ type: 'text' as const, text: `Done.\n\`\`\`json\n{"summary": "${worker} wrote ${FILES[worker]}", "issues": []}\n\`\`\`` });

/** A plausible agent on a current model: thinks, sends an empty text block along, writes its file, reports. */
function working(r: RecordedRequest): FakeMessage {
  const worker = workerOf(r);
  if (r.body.messages.length === 1) return { content: [{ type: 'thinking', thinking: `${worker}: one file` }, { type: 'text', text: '\n' }, write(worker)] };
  return { content: [{ type: 'thinking', thinking: 'report' }, report(worker)] };
}

function planAnswer(r: RecordedRequest, critical: boolean): FakeMessage {
  // Structured outputs: the plan is the text; without them (an unknown model), a submit_plan call.
  if (r.body.output_config?.format) return { content: [{ type: 'thinking', thinking: 'db first' }, { type: 'text', text: JSON.stringify(plan(critical)) }] };
  return { content: [{ type: 'tool_use', name: 'submit_plan', input: plan(critical) }] };
}

const opened: { api: FakeMessagesApi; stop: () => Promise<unknown> }[] = [];
afterEach(async () => {
  for (const o of opened.splice(0)) {
    await o.stop();
    await o.api.close();
  }
});

async function listener(respond: (r: RecordedRequest) => FakeMessage, over: ConfigInput = {}) {
  const api = await startFakeMessagesApi({ strict: true, fallback: respond });
  const started = await startTestOrchestrator({ model: undefined, ...over }, {}, { ANTHROPIC_API_KEY: 'sk-test', ANTHROPIC_BASE_URL: api.url });
  opened.push({ api, stop: () => started.orchestrator.stop() });
  const redis = client();
  opened.push({ api, stop: () => redis.quit() });
  const run = async (description: string): Promise<TaskOutput> => {
    const m = buildTaskMessage({ description }, started.config.domain);
    await sendTask(redis, started.keys, m);
    const record = await eventually(async () => {
      const r = await redis.hgetall(`results:${m.task_id}`);
      return r.status === 'completed' || r.status === 'failed' ? r : undefined;
    }, 45_000, 'the result');
    return JSON.parse(record.output!) as TaskOutput;
  };
  return { api, run, config: started.config };
}

describe('the listener on today\'s models (strict fake Messages API)', () => {
  it('with nothing but an API key: the current Sonnet plans and works, every request accepted, the task completed', async () => {
    const { api, run, config } = await listener((r) => (isPlanner(r) ? planAnswer(r, true) : working(r)));
    expect(config.planner).toBe('llm');
    const out = await run('Create user registration endpoint');
    expect(api.refused).toEqual([]);
    expect(out.status).toBe('completed');
    expect(out.plan?.source).toBe('llm');
    expect([...out.files_created].sort()).toEqual(Object.values(FILES).sort());
    expect(new Set(api.requests.map((r) => r.body.model))).toEqual(new Set(['claude-sonnet-5-5']));
    const planner = api.requests.find(isPlanner)!;
    expect(planner.body).not.toHaveProperty('tool_choice');
    expect(planner.body.output_config?.format?.type).toBe('json_schema');
    // Sonnet 5.5 is priced: $2 per million input tokens, $10 output (the fake's 10 in, 5 out per call).
    expect(out.usage?.cost_usd).toBeCloseTo(6 * (10 * 2 + 5 * 10) / 1e6, 9);
  }, 60_000);

  it('with a legacy model (claude-sonnet-4-6 for sonnet): every request accepted, the task completed', async () => {
    const { api, run } = await listener((r) => (isPlanner(r) ? planAnswer(r, true) : working(r)), { anthropic: { models: { sonnet: 'claude-sonnet-4-6' } } });
    const out = await run('Create user registration endpoint');
    expect(api.refused).toEqual([]);
    expect(out.status).toBe('completed');
    expect(out.plan?.source).toBe('llm');
    expect(new Set(api.requests.map((r) => r.body.model))).toEqual(new Set(['claude-sonnet-4-6']));
  }, 60_000);

  it('with a model the catalog and the price table do not know: tool_choice auto for the plan, the task completed, its cost unknown', async () => {
    const { api, run } = await listener((r) => (isPlanner(r) ? planAnswer(r, true) : working(r)), { anthropic: { models: { sonnet: 'claude-next-1' } } });
    const out = await run('Create user registration endpoint');
    expect(api.refused).toEqual([]);
    expect(out.status).toBe('completed');
    expect(api.requests.find(isPlanner)!.body.tool_choice).toEqual({ type: 'auto' });
    expect(out.usage).toMatchObject({ input_tokens: 60, cost_usd: null });
    expect(out.details['db-worker']?.usage?.cost_usd).toBeNull();
  }, 60_000);

  it.each([
    { model: 'claude-sonnet-5-5', over: {}, steps: [8192, 16384, 32768, 65536, 128000] },
    { model: 'claude-sonnet-4-6', over: { anthropic: { models: { sonnet: 'claude-sonnet-4-6' } } }, steps: [8192, 16384, 32768, 64000] },
  ])('on $model each stop reason ends as the table says: pause_turn goes on; refusal, truncated and context_exceeded fail; no_work fails after its attempts', async ({ model, over, steps }) => {
    const { api, run } = await listener((r) => {
      if (isPlanner(r)) return planAnswer(r, false);
      const second = JSON.stringify(r.body.messages[0]?.content ?? '').includes('role-based access');
      return (second ? secondScenario : stopScenario)(r, workerOf(r), r.body.messages.length === 1);
    }, over);
    const one = await run('Create user registration endpoint');
    expect(api.refused).toEqual([]);
    expect(one.status).toBe('partial'); // the failed steps are not critical
    expect(one.details['db-worker']).toMatchObject({ status: 'succeeded', files_created: [FILES['db-worker']] });
    expect(one.details['api-worker']).toMatchObject({ status: 'failed', attempts: 1 });
    expect(one.details['api-worker']?.error).toMatch(new RegExp(`^refusal: ${model} declined this part of the task \\(category cyber\\)`));
    expect(one.details['auth-worker']).toMatchObject({ status: 'failed', attempts: 1 });
    expect(one.details['auth-worker']?.error).toMatch(new RegExp(`^truncated: the answer was cut off at max_tokens ${steps.at(-1)}, ${model}'s limit`));
    // The cut Write never ran; max_tokens grew up to the model's limit on the way.
    expect(existsSync(join(one.workspace!, FILES['auth-worker']!))).toBe(false);
    const authMax = api.requests.filter((r) => workerOf(r) === 'auth-worker').map((r) => r.body.max_tokens);
    expect(authMax).toEqual(steps);
    expect(one.files_created).toEqual([FILES['db-worker']]);

    const two = await run('Add role-based access to admin routes');
    expect(api.refused).toEqual([]);
    expect(two.status).toBe('partial');
    expect(two.details['db-worker']).toMatchObject({ status: 'failed', attempts: 1 });
    expect(two.details['db-worker']?.error).toMatch(new RegExp(`^context_exceeded: the conversation outgrew ${model}'s context window`));
    // A worker that ended its turn with nothing and changed nothing is not a success; another attempt may help.
    expect(two.details['api-worker']).toMatchObject({ status: 'failed', attempts: 3 });
    expect(two.details['api-worker']?.error).toMatch(new RegExp(`^no_work: ${model} ended its turn \\(end_turn\\) with no answer and no change`));
    expect(new Set(api.requests.map((r) => r.body.model))).toEqual(new Set([model]));
    // An empty final answer after real work: the files are the work.
    expect(two.details['auth-worker']).toMatchObject({ status: 'succeeded', files_created: [FILES['auth-worker']] });
  }, 90_000);
});

/** db-worker: writes, then outgrows the context window; api-worker: ends every turn empty; auth-worker: writes, then ends empty. */
function secondScenario(r: RecordedRequest, worker: string, first: boolean): FakeMessage {
  if (worker === 'db-worker') return first ? { content: [write(worker)] } : { content: [], stop_reason: 'model_context_window_exceeded' };
  if (worker === 'api-worker') return { content: [{ type: 'text', text: ' ' }] };
  return first ? { content: [write(worker)] } : { content: [] };
}

/**
 * db-worker: pauses, then writes and reports (succeeds); api-worker: refuses; auth-worker:
 * every answer cut at max_tokens in the middle of a Write.
 */
function stopScenario(r: RecordedRequest, worker: string, first: boolean): FakeMessage {
  if (worker === 'db-worker') {
    if (first) return { content: [{ type: 'thinking', thinking: 'long' }, { type: 'text', text: 'Looking around.' }], stop_reason: 'pause_turn' };
    if (r.body.messages.length === 2) return { content: [write(worker)] };
    return { content: [report(worker)] };
  }
  if (worker === 'api-worker') return { content: [], stop_reason: 'refusal', refusalCategory: 'cyber' };
  return { content: [{ type: 'text', text: 'Writing.' }, write(worker)], stop_reason: 'max_tokens' };
}
