import { afterEach, describe, expect, it } from 'vitest';
import { guardModel, type ModelGuard } from '../../src/limits/guardedModel.ts';
import { createModelGate, type ModelGate, type ModelWait } from '../../src/limits/modelGate.ts';
import { DEFAULT_PRICES } from '../../src/limits/prices.ts';
import { createAnthropicModel } from '../../src/models/anthropic.ts';
import { startFakeMessagesApi } from '../support/fakeMessagesApi.ts';
import { client, freshDomain } from '../support/redis.ts';

// Two instances on one domain, each with its own gate, the real SDK and a fake Messages API
// that sends rate-limit headers: what one instance reads slows the other down, before any 429.

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function instance(keys: ReturnType<typeof freshDomain>['keys'], url: string): Promise<{ guard: ModelGuard; gate: ModelGate }> {
  const redis = client();
  const subscriber = client();
  const gate = await createModelGate({
    redis, subscriber, keys, maxCalls: undefined, tokensPerMinute: undefined, leaseTtlMs: 60_000,
    breakerThreshold: 3, breakerCooldownMs: 1000, breakerMaxCooldownMs: 5000,
  });
  closers.push(() => redis.quit(), () => subscriber.quit(), () => gate.close());

  return { gate, guard: { gate, prices: DEFAULT_PRICES, retries: 0, retryBaseMs: 10 } };
}

const params = { model: 'claude-sonnet-5-5', max_tokens: 64, messages: [{ role: 'user' as const, content: 'hi' }] };

describe('pace from the rate-limit headers, shared by the gate', () => {
  it('holds the next call of another instance (reason rate_limit) until the reset the headers gave, and the API sees no 429', async () => {
    const api = await startFakeMessagesApi({ strict: true });
    closers.push(() => api.close());
    const { keys } = freshDomain();
    const a = await instance(keys, api.url);
    const b = await instance(keys, api.url);
    const model = createAnthropicModel({ apiKey: 'test', baseURL: api.url, maxRetries: 0, timeoutMs: 10_000 });
    api.enqueue(
      {
        content: [{ type: 'text', text: 'one' }],
        headers: {
          'anthropic-ratelimit-requests-limit': '50',
          'anthropic-ratelimit-requests-remaining': '0',
          'anthropic-ratelimit-requests-reset': new Date(Date.now() + 1500).toISOString(),
        },
      },
      { content: [{ type: 'text', text: 'two' }] },
    );
    const signal = new AbortController().signal;
    await guardModel(model, a.guard).createMessage(params, { signal, caller: 'db-worker' });
    const waits: ModelWait[] = [];
    const second = await guardModel(model, b.guard, { onWait: (w) => waits.push(w) }).createMessage(params, { signal, caller: 'api-worker' });
    expect(second.content).toEqual([{ type: 'text', text: 'two', citations: null }]);
    expect(waits).toEqual([{ reason: 'rate_limit' }]);
    expect(api.stats.byStatus.get(429)).toBeUndefined();
    expect(api.refused).toEqual([]);
  });

  it('does not hold calls back while the headers say there is room', async () => {
    const api = await startFakeMessagesApi({ strict: true });
    closers.push(() => api.close());
    const { keys } = freshDomain();
    const a = await instance(keys, api.url);
    const model = createAnthropicModel({ apiKey: 'test', baseURL: api.url, maxRetries: 0, timeoutMs: 10_000 });
    const roomy = { 'anthropic-ratelimit-requests-remaining': '49', 'anthropic-ratelimit-requests-reset': new Date(Date.now() + 60_000).toISOString() };
    api.enqueue({ content: [{ type: 'text', text: 'one' }], headers: roomy }, { content: [{ type: 'text', text: 'two' }], headers: roomy });
    const waits: ModelWait[] = [];
    const guarded = guardModel(model, a.guard, { onWait: (w) => waits.push(w) });
    const signal = new AbortController().signal;
    await guarded.createMessage(params, { signal, caller: 'db-worker' });
    await guarded.createMessage(params, { signal, caller: 'db-worker' });
    expect(waits).toEqual([]);
  });
});
