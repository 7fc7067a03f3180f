import Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startFakeMessagesApi } from '../support/fakeMessagesApi.ts';
import { signThinking } from '../support/messagesRules.ts';

// The strict fake refuses, with the API's 400, every request the documentation says
// the model refuses: so a test against it that sees no refusal means something.

async function strictApi() {
  const api = await startFakeMessagesApi({ strict: true, fallback: { content: [{ type: 'text', text: 'ok' }] } });
  onTestFinished(() => api.close());
  const client = new Anthropic({ apiKey: 'test', baseURL: api.url, maxRetries: 0 });
  const send = (body: Record<string, unknown>) =>
    client.messages.stream({ max_tokens: 1024, messages: [{ role: 'user', content: 'hi' }], ...body } as never).finalMessage().then(
      () => 'accepted',
      (error: unknown) => (error instanceof Anthropic.BadRequestError ? `400 ${error.message}` : `other ${String(error)}`),
    );
  return { api, send };
}

const tool = { name: 'submit_plan', description: 'plan', input_schema: { type: 'object' as const, properties: {} } };
const current = 'claude-sonnet-5-5';
const legacy = 'claude-sonnet-4-6';

describe('the strict fake Messages API', () => {
  it('refuses forced tool use on a current model, and on a legacy one only with thinking on', async () => {
    const { send } = await strictApi();
    expect(await send({ model: current, tools: [tool], tool_choice: { type: 'tool', name: 'submit_plan' } })).toMatch(/^400 .*forced tool use/);
    expect(await send({ model: 'claude-opus-5-5', tools: [tool], tool_choice: { type: 'any' } })).toMatch(/^400 .*forced tool use/);
    expect(await send({ model: legacy, tools: [tool], tool_choice: { type: 'tool', name: 'submit_plan' } })).toBe('accepted');
    expect(await send({ model: legacy, tools: [tool], tool_choice: { type: 'any' }, thinking: { type: 'adaptive' } })).toMatch(/^400 .*with thinking on/);
    expect(await send({ model: current, tools: [tool], tool_choice: { type: 'auto' } })).toBe('accepted');
  });

  it('refuses thinking disabled and manual thinking on the current models, sampling parameters on them, effort where it is not taken', async () => {
    const { send } = await strictApi();
    expect(await send({ model: current, thinking: { type: 'disabled' } })).toMatch(/^400 .*thinking\.type: \\"disabled\\"/);
    expect(await send({ model: 'claude-fable-5-2', thinking: { type: 'enabled', budget_tokens: 2048 } })).toMatch(/^400 .*\\"enabled\\" is not supported/);
    expect(await send({ model: current, thinking: { type: 'between_tools' } })).toBe('accepted');
    expect(await send({ model: current, temperature: 0.2 })).toMatch(/^400 .*temperature: sampling parameters/);
    expect(await send({ model: legacy, temperature: 0.2 })).toBe('accepted');
    expect(await send({ model: 'claude-haiku-4-5', output_config: { effort: 'low' } })).toMatch(/^400 .*output_config\.effort: not supported/);
    expect(await send({ model: current, output_config: { effort: 'low' } })).toBe('accepted');
    expect(await send({ model: current, max_tokens: 200_000 })).toMatch(/^400 .*max_tokens: 200000 > 128000/);
  });

  it('refuses prefill on 4.6 and later, empty and whitespace text blocks, more than four cache breakpoints', async () => {
    const { send } = await strictApi();
    const prefill = [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'Sure:' }];
    expect(await send({ model: current, messages: prefill })).toMatch(/^400 .*prefill/);
    expect(await send({ model: legacy, messages: prefill })).toMatch(/^400 .*prefill/);
    expect(await send({ model: 'claude-haiku-4-5', messages: prefill })).toBe('accepted');
    expect(await send({ model: current, messages: [{ role: 'user', content: [{ type: 'text', text: ' \n' }] }] })).toMatch(/non-whitespace/);
    expect(await send({ model: legacy, messages: [{ role: 'user', content: [{ type: 'text', text: '' }] }] })).toMatch(/must be non-empty/);
    const cached = (text: string) => ({ type: 'text', text, cache_control: { type: 'ephemeral' } });
    expect(await send({ model: current, system: [cached('a'), cached('b')], messages: [{ role: 'user', content: [cached('c'), cached('d'), cached('e')] }] })).toMatch(/maximum of 4/);
  });

  it('refuses a thinking block that was changed or made by another model, and tool_use without its tool_result', async () => {
    const { send } = await strictApi();
    const thinking = (model: string, text: string) => ({ type: 'thinking', thinking: text, signature: signThinking(model, text) });
    const turn = (block: unknown) => [
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: [block, { type: 'tool_use', id: 't1', name: 'Read', input: {} }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: 'x' }] },
    ];
    expect(await send({ model: current, messages: turn(thinking(current, 'plan')) })).toBe('accepted');
    expect(await send({ model: current, messages: turn({ ...thinking(current, 'plan'), thinking: 'plan!' }) })).toMatch(/Invalid `signature`/);
    expect(await send({ model: current, messages: turn(thinking('claude-opus-5-5', 'plan')) })).toMatch(/Invalid `signature`/);
    const unanswered = [{ role: 'user', content: 'hi' }, { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'Read', input: {} }] }, { role: 'user', content: 'go on' }];
    expect(await send({ model: current, messages: unanswered })).toMatch(/without tool_result/);
    const stray = [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 'nope', content: 'x' }] }];
    expect(await send({ model: legacy, messages: stray })).toMatch(/unexpected tool_use_id/);
  });

  it('lists what it refused and serves nothing from the queue for it', async () => {
    const { api, send } = await strictApi();
    api.enqueue({ content: [{ type: 'text', text: 'queued' }] });
    await send({ model: current, temperature: 1 });
    expect(api.refused).toHaveLength(1);
    expect(api.pending()).toBe(1);
  });
});
