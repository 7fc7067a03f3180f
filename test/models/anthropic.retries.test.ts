import { OverloadedError } from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { shouldRetry } from '../../src/errors.ts';
import { fakeApi, report, workerOverFakeApi } from './harness.ts';

const params = { model: 'claude-sonnet-4-5', max_tokens: 64, messages: [{ role: 'user' as const, content: 'hi' }] };
const options = () => ({ signal: new AbortController().signal, caller: 'db-worker' });

describe('the real SDK retries against the fake API', () => {
  it('recovers from a 429, waiting as retry-after says', async () => {
    const { api, model } = await fakeApi();
    api.enqueue({ status: 429, headers: { 'retry-after': '0.2' } }, { content: [{ type: 'text', text: 'hello' }] });
    const started = Date.now();
    const message = await model.createMessage(params, options());
    expect(message.content).toEqual([expect.objectContaining({ type: 'text', text: 'hello' })]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(180);
    expect(api.requests).toHaveLength(2);
    expect(api.requests[1]!.headers['x-stainless-retry-count']).toBe('1');
  });

  it('recovers from 529 overloaded and 500 within one worker turn', async () => {
    const { api, run, input } = await workerOverFakeApi({ maxRetries: 3 });
    api.enqueue(
      { status: 529, headers: { 'retry-after-ms': '5' } },
      { status: 500, headers: { 'retry-after-ms': '5' } },
      { content: [{ type: 'text', text: report('fine after retries') }] },
    );
    const result = await run(input, new AbortController().signal);
    expect(result.summary).toBe('fine after retries');
    expect(result.turns).toBe(1);
    expect(api.requests).toHaveLength(3);
  });

  it('throws a typed, retryable error once the SDK has used its retries', async () => {
    const { api, run, input } = await workerOverFakeApi({ maxRetries: 2 });
    for (let i = 0; i < 3; i++) api.enqueue({ status: 529, headers: { 'retry-after-ms': '5' } });
    const error = await run(input, new AbortController().signal).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OverloadedError);
    expect(shouldRetry(error)).toBe(true);
    expect(api.requests).toHaveLength(3);
  });

  it('does not retry a 400, and says it is not retryable', async () => {
    const { api, model } = await fakeApi();
    api.enqueue({ status: 400 });
    const error = await model.createMessage(params, options()).catch((e: unknown) => e);
    expect(shouldRetry(error)).toBe(false);
    expect(api.requests).toHaveLength(1);
  });
});
