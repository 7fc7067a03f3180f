import { describe, expect, it } from 'vitest';
import { fakeApi } from './harness.ts';

describe('fakeMessagesApi', () => {
  it('answers non-streaming JSON with the same message the SDK would stream', async () => {
    const { api } = await fakeApi();
    api.enqueue({ content: [{ type: 'text', text: 'plain' }], usage: { input_tokens: 3 } });
    const response = await fetch(`${api.url}/v1/messages`, { method: 'POST', body: JSON.stringify({ model: 'm', max_tokens: 1, messages: [] }) });
    expect(await response.json()).toMatchObject({ type: 'message', content: [{ type: 'text', text: 'plain' }], stop_reason: 'end_turn', usage: { input_tokens: 3 } });
    expect(api.requests[0]!.stream).toBe(false);
  });

  it('fails an unexpected request at once, naming it', async () => {
    const { api, model } = await fakeApi({ maxRetries: 3 });
    const call = model.createMessage({ model: 'claude-x', max_tokens: 1, messages: [{ role: 'user', content: 'hi' }] }, { signal: new AbortController().signal, caller: 't' });
    await expect(call).rejects.toThrow(/unexpected request #1 POST \/v1\/messages.*no response was enqueued/);
    expect(api.requests).toHaveLength(1);
  });
});
