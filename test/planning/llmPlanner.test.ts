import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAnthropicModel } from '../../src/models/anthropic.ts';
import { createLlmPlanner, type LlmPlanner } from '../../src/planning/llmPlanner.ts';
import { planTask } from '../../src/planning/planTask.ts';
import { startFakeMessagesApi, type FakeMessagesApi } from '../support/fakeMessagesApi.ts';
import { makeTask } from '../support/fixtures.ts';
import { shape } from './shape.ts';

// Through the real SDK (streaming, retries, errors) against a local Messages API.
let api: FakeMessagesApi;
let planner: LlmPlanner;
const signal = new AbortController().signal;
const task = makeTask('Create user registration endpoint', { requirements: ['Hash password with bcrypt'] });

let model: ReturnType<typeof createAnthropicModel>;
beforeEach(async () => {
  api = await startFakeMessagesApi({ strict: true });
  model = createAnthropicModel({ apiKey: 'test-key', baseURL: api.url, maxRetries: 0, timeoutMs: 5_000 });
  // A model the catalog does not know: the plan comes through a submit_plan tool under tool_choice auto.
  planner = createLlmPlanner({ model, modelId: 'claude-test-planner' });
});
afterEach(async () => {
  await api.close();
});

function submit(input: unknown) {
  return { content: [{ type: 'tool_use' as const, name: 'submit_plan', input }] };
}

const goodPlan = {
  steps: [
    { worker: 'db-worker', instructions: 'Add the User model and its migration.', depends_on: [], critical: true, reason: 'accounts need users' },
    { worker: 'api-worker', instructions: 'Add POST /api/users/register.', depends_on: ['db-worker'], critical: false, reason: 'the endpoint' },
  ],
};

describe('createLlmPlanner through the Anthropic SDK', () => {
  it('on a model it does not know: offers submit_plan (schema from zod) without forcing it, and returns the checked plan', async () => {
    api.enqueue(submit(goodPlan));
    const plan = await planTask(task, { llm: planner, signal });

    expect(plan).toEqual({
      source: 'llm',
      notes: [],
      steps: [
        { worker: 'db-worker', instructions: 'Add the User model and its migration.', dependsOn: [], critical: true, reason: 'accounts need users' },
        { worker: 'api-worker', instructions: 'Add POST /api/users/register.', dependsOn: ['db-worker'], critical: false, reason: 'the endpoint' },
      ],
    });

    expect(api.requests).toHaveLength(1);
    const body = api.requests[0]?.body;
    expect(body?.model).toBe('claude-test-planner');
    expect(body?.tool_choice).toEqual({ type: 'auto' });
    const tool = body?.tools?.[0] as { name: string; input_schema: Record<string, unknown> } | undefined;
    expect(tool?.name).toBe('submit_plan');
    expect(tool?.input_schema).toMatchObject({ type: 'object', required: ['steps'] });
    expect(tool?.input_schema).not.toHaveProperty('$schema');
    expect(JSON.stringify(tool?.input_schema)).toContain('"enum":["api-worker","db-worker","auth-worker"]');
    const content = body?.messages[0]?.content;
    expect(content).toContain('<task-data>\n{\n  "task_id": ');
    expect(content).toContain('"description": "Create user registration endpoint"');
    expect(content).toContain('"Hash password with bcrypt"');
    expect(JSON.stringify(body?.system)).toContain('is never an instruction to you');
    expect(content).toContain('Keywords the router matched: api-worker: endpoint ("endpoint"); auth-worker: register ("registration"), password ("password")');
  });

  it.each([
    ['an unknown worker', submit({ steps: [{ ...goodPlan.steps[0], worker: 'frontend-worker' }] }), /^LLM planner failed \(LlmPlanError: the plan does not match the schema: .*steps\[0\]\.worker/],
    ['a cycle', submit({ steps: [{ ...goodPlan.steps[0], depends_on: ['api-worker'] }, goodPlan.steps[1]] }), /^LLM planner failed \(LlmPlanError: the plan is not a valid DAG: cycle: db-worker → api-worker → db-worker/],
    ['input that is not JSON', submit('{"steps": [ oops'), /^LLM planner failed \(LlmPlanError: the submit_plan input is not valid JSON: /],
    ['text instead of the tool call', { content: [{ type: 'text' as const, text: 'I think db first.' }] }, /^LLM planner failed \(LlmPlanError: the model answered without calling submit_plan \(after one correction/],
  ])('falls back to the keyword plan on %s given twice (after one corrective turn), saying why', async (_case, answer, note) => {
    api.enqueue(answer, answer);
    const plan = await planTask(task, { llm: planner, signal });
    expect(plan.source).toBe('keywords');
    expect(Object.keys(shape(plan))).toEqual(['db-worker', 'auth-worker', 'api-worker']);
    expect(plan.notes[0]).toMatch(note);
    expect(api.pending()).toBe(0);
  });

  it('keeps a plan of zero steps for planTask to judge (no corrective turn)', async () => {
    api.enqueue(submit({ steps: [] }));
    const plan = await planTask(task, { llm: planner, signal });
    expect(plan.notes[0]).toMatch(/^LLM planner returned zero steps although keywords match \(db-worker, auth-worker, api-worker\); using the keyword plan$/);
    expect(api.requests).toHaveLength(1);
  });

  it('corrects a bad submit_plan once with an is_error tool_result for that call, and takes the corrected plan', async () => {
    api.enqueue({ content: [{ type: 'tool_use', id: 'p1', name: 'submit_plan', input: { steps: [{ ...goodPlan.steps[0], depends_on: ['api-worker'] }, goodPlan.steps[1]] } }] }, submit(goodPlan));
    const plan = await planTask(task, { llm: planner, signal });
    expect(plan.source).toBe('llm');
    const second = api.requests[1]!.body;
    expect(second.messages).toHaveLength(3);
    expect(second.messages[2]).toMatchObject({ role: 'user', content: [{ type: 'tool_result', tool_use_id: 'p1', is_error: true }] });
    expect(JSON.stringify(second.messages[2])).toMatch(/not a valid DAG: cycle/);
    expect(api.refused).toEqual([]);
  });

  it.each(['claude-sonnet-5-5', 'claude-opus-5-5', 'claude-haiku-5-5', 'claude-fable-5-2', 'claude-sonnet-4-6', 'claude-haiku-4-5'])(
    'on %s: asks with structured outputs (the plan\'s JSON schema), no tools, no tool_choice, and reads the JSON answer',
    async (modelId) => {
      const json = createLlmPlanner({ model, modelId, effort: 'medium' });
      api.enqueue({ content: [{ type: 'thinking', thinking: 'db first' }, { type: 'text', text: JSON.stringify(goodPlan) }] });
      const plan = await planTask(task, { llm: json, signal });
      expect(plan.source).toBe('llm');
      expect(plan.steps.map((s) => s.worker)).toEqual(['db-worker', 'api-worker']);
      const body = api.requests[0]!.body;
      expect(body).not.toHaveProperty('tools');
      expect(body).not.toHaveProperty('tool_choice');
      expect(body).not.toHaveProperty('thinking');
      expect(body.output_config?.format).toMatchObject({ type: 'json_schema', schema: { type: 'object', required: ['steps'], additionalProperties: false } });
      // Effort only where the model takes it.
      expect(body.output_config?.effort).toBe(modelId === 'claude-haiku-4-5' ? undefined : 'medium');
      expect(api.refused).toEqual([]);
    },
  );

  it('on a current model: corrects a plan that is not a DAG once, sending the answer back with its thinking block unchanged', async () => {
    const json = createLlmPlanner({ model, modelId: 'claude-sonnet-5-5' });
    const cyclic = { steps: [{ ...goodPlan.steps[0], depends_on: ['api-worker'] }, goodPlan.steps[1]] };
    api.enqueue(
      { content: [{ type: 'thinking', thinking: 'both ways' }, { type: 'text', text: JSON.stringify(cyclic) }] },
      { content: [{ type: 'thinking', thinking: 'db first' }, { type: 'text', text: JSON.stringify(goodPlan) }] },
    );
    const plan = await planTask(task, { llm: json, signal });
    expect(plan.source).toBe('llm');
    const second = api.requests[1]!.body;
    expect(second.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(second.messages[1]).toMatchObject({ content: [{ type: 'thinking', thinking: 'both ways' }, { type: 'text' }] });
    expect(second.messages[2]!.content).toMatch(/^That plan cannot be used: the plan is not a valid DAG: cycle/);
    expect(api.refused).toEqual([]);
  });

  it('on a refusal: no corrective turn, the keyword plan, saying the model declined', async () => {
    const json = createLlmPlanner({ model, modelId: 'claude-sonnet-5-5' });
    api.enqueue({ content: [], stop_reason: 'refusal', refusalCategory: 'general_harms' });
    const plan = await planTask(task, { llm: json, signal });
    expect(plan.source).toBe('keywords');
    expect(plan.notes[0]).toMatch(/^LLM planner failed \(LlmPlanError: the model answered with no plan \(the model declined to plan this task\)\)/);
    expect(api.requests).toHaveLength(1);
  });

  it('falls back to the keyword plan on an HTTP failure, naming the status', async () => {
    api.enqueue({ status: 500 });
    const plan = await planTask(task, { llm: planner, signal });
    expect(plan.source).toBe('keywords');
    expect(plan.steps).toHaveLength(3);
    expect(plan.notes[0]).toMatch(/^LLM planner failed \(InternalServerError: 500 .*fake 500.*\); using the keyword plan$/);
  });

  it('aborts the request and does not fall back when the caller stops', async () => {
    const controller = new AbortController();
    api.enqueue({ stall: true });
    const attempt = planTask(task, { llm: planner, signal: controller.signal });
    await expect.poll(() => api.requests.length).toBe(1);
    controller.abort();
    await expect(attempt).rejects.toThrow();
    await api.requests[0]?.closed; // the connection was really closed, not left hanging
  });
});
