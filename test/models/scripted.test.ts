import { APIUserAbortError } from '@anthropic-ai/sdk';
import { describe, expect, it, vi } from 'vitest';
import { createScriptedModel, ScriptedFailureError } from '../../src/models/scripted.ts';
import type { MessageParams } from '../../src/models/types.ts';
import { getTools, TOOL_NAMES } from '../../src/workers/tools/index.ts';

const params = (prompt: string): MessageParams => ({
  model: 'claude-sonnet-4-5',
  max_tokens: 1024,
  system: 'You are a worker.',
  tools: getTools([...TOOL_NAMES]).map((t) => t.definition),
  messages: [{ role: 'user', content: prompt }],
});
const signal = () => new AbortController().signal;

describe('createScriptedModel', () => {
  it("answers a worker's first turn by looking at the workspace with Glob, as a complete Message", async () => {
    const model = createScriptedModel({ latencyMs: () => 0, fail: new Set() });
    const message = await model.createMessage(params('# Task 9\nAdd role-based access to admin routes'), { signal: signal(), caller: 'auth-worker' });
    expect(message).toMatchObject({ type: 'message', role: 'assistant', model: 'claude-sonnet-4-5', stop_reason: 'tool_use', stop_sequence: null, container: null });
    const calls = message.content.flatMap((b) => (b.type === 'tool_use' ? [`${b.name} ${(b.input as { pattern: string }).pattern}`] : []));
    expect(calls).toHaveLength(2);
    // The exact files it decides on (the role check's among them), in one pattern; then the migrations, for their numbers.
    expect(calls[0]).toMatch(/^Glob \{package\.json,src\/db\.js,.*src\/middleware\/requireRole\.js,.*\}$/);
    expect(calls[1]).toBe('Glob migrations/*.sql');
    expect(message.usage).toMatchObject({ service_tier: 'standard', cache_read_input_tokens: 0 });
    expect(message.usage.cache_creation_input_tokens).toBeGreaterThan(0);
  });

  it('estimates input tokens as the JSON of the conversation would (within 5 % for prose and code), without building it', async () => {
    const model = createScriptedModel({ latencyMs: () => 0, fail: new Set() });
    const prompt = `<task-data>\n${JSON.stringify({ description: 'Create user registration endpoint' })}\n</task-data>\n${'The db-worker writes the "User" model and its migration first; the others follow.\n'.repeat(40)}`;
    const first = params(prompt);
    const answer = await model.createMessage(first, { signal: signal(), caller: 'db-worker' });
    const second: MessageParams = {
      ...first,
      messages: [
        ...first.messages,
        { role: 'assistant', content: answer.content.map((b) => (b.type === 'tool_use' ? { type: 'tool_use', id: b.id, name: b.name, input: b.input } : { type: 'text', text: b.type === 'text' ? b.text : '' })) },
        { role: 'user', content: answer.content.flatMap((b) => (b.type === 'tool_use' ? [{ type: 'tool_result' as const, tool_use_id: b.id, content: 'No files match' }] : [])) },
      ],
    };
    for (const [call, sent] of [[answer, first], [await model.createMessage(second, { signal: signal(), caller: 'db-worker' }), second]] as const) {
      const exact = Math.ceil(JSON.stringify(sent.messages).length / 4);
      expect(call.usage.input_tokens).toBeGreaterThan(exact * 0.95);
      expect(call.usage.input_tokens).toBeLessThanOrEqual(exact);
      expect(call.usage.output_tokens).toBe(Math.ceil(JSON.stringify(call.content).length / 4));
    }
  });

  it('is deterministic', async () => {
    const model = createScriptedModel({ latencyMs: () => 0, fail: new Set() });
    const call = () => model.createMessage(params('Create user registration endpoint'), { signal: signal(), caller: 'db-worker' });
    expect(await call()).toEqual(await call());
  });

  it('ends with a JSON report once the tool results are back, naming only what the writes that succeeded did and listing failed tools as issues', async () => {
    const model = createScriptedModel({ latencyMs: () => 0, fail: new Set() });
    const first = params(`<task-data>\n${JSON.stringify({ description: 'Add a Widget model' })}\n</task-data>`);
    const looked: MessageParams = {
      ...first,
      messages: [
        ...first.messages,
        { role: 'assistant', content: [{ type: 'tool_use', id: 'g1', name: 'Glob', input: { pattern: 'src/**/*.js' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'g1', content: 'package.json\nsrc/db.js\nsrc/models/user.js\nsrc/routes/index.js' }] },
      ],
    };
    const writing = await model.createMessage(looked, { signal: signal(), caller: 'db-worker' });
    const writes = writing.content.flatMap((b) => (b.type === 'tool_use' ? [b] : []));
    expect(writes.map((b) => `${b.name} ${(b.input as { file_path: string }).file_path}`)).toEqual(['Write src/models/widget.js', 'Write migrations/001_create_widgets.sql']);
    const answered: MessageParams = {
      ...looked,
      messages: [
        ...looked.messages,
        { role: 'assistant', content: writes.map((b) => ({ type: 'tool_use' as const, id: b.id, name: b.name, input: b.input })) },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: writes[0]!.id, is_error: true, content: 'Write failed: disk full' },
            { type: 'tool_result', tool_use_id: writes[1]!.id, content: 'Created migrations/001_create_widgets.sql (120 bytes)' },
          ],
        },
      ],
    };
    const answer = await model.createMessage(answered, { signal: signal(), caller: 'db-worker' });
    expect(answer.stop_reason).toBe('end_turn');
    const block = answer.content[0];
    const json = JSON.parse(/```json\n([\s\S]*)\n```/.exec(block?.type === 'text' ? block.text : '')![1]!) as { summary: string; issues: string[] };
    expect(json.issues).toEqual(['Write failed: disk full']);
    expect(json.summary).toContain('migrations/001_create_widgets.sql');
    expect(json.summary).not.toContain('src/models/widget.js');
    expect(answer.usage.cache_read_input_tokens).toBeGreaterThan(0);
  });

  it('waits its latency once per run, abortably, and counts every call', async () => {
    const calls: string[] = [];
    const model = createScriptedModel({ latencyMs: () => 10_000, fail: new Set(), onCall: (c) => calls.push(c) });
    const controller = new AbortController();
    const pending = model.createMessage(params('x'), { signal: controller.signal, caller: 'db-worker' });
    setTimeout(() => controller.abort(), 20);
    await expect(pending).rejects.toBeInstanceOf(APIUserAbortError);
    expect(calls).toEqual(['db-worker']);
  });

  it('fails every call of a caller in `fail`, after its latency', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] }); // the model's latency timer
    try {
      const model = createScriptedModel({ latencyMs: (c) => (c === 'db-worker' ? 30 : 0), fail: new Set(['db-worker']) });
      let settled = false;
      const call = model.createMessage(params('x'), { signal: signal(), caller: 'db-worker' });
      call.catch(() => undefined).finally(() => (settled = true));
      await vi.advanceTimersByTimeAsync(29);
      expect(settled).toBe(false); // still waiting its latency
      await vi.advanceTimersByTimeAsync(1);
      await expect(call).rejects.toBeInstanceOf(ScriptedFailureError);
    } finally {
      vi.useRealTimers();
    }
  });

  it('gives the planner text, with no tool call', async () => {
    const model = createScriptedModel({ latencyMs: () => 0, fail: new Set() });
    const answer = await model.createMessage(params('plan this'), { signal: signal(), caller: 'planner' });
    expect(answer.stop_reason).toBe('end_turn');
    expect(answer.content.map((b) => b.type)).toEqual(['text']);
  });
});
