import { describe, expect, it } from 'vitest';
import { shouldRetry } from '../../src/errors.ts';
import { guardModel } from '../../src/limits/guardedModel.ts';
import { DEFAULT_PRICES, UnknownModelPriceError } from '../../src/limits/prices.ts';
import { fakeApi } from '../models/harness.ts';

// A model without a price: its tokens are counted and its dollars are unknown (null), and a
// task budget cannot be held on it.

const params = (model: string) => ({ model, max_tokens: 64, messages: [{ role: 'user' as const, content: 'hi' }] });
const guard = { gate: undefined, prices: DEFAULT_PRICES, retries: 0, retryBaseMs: 10 };
const signal = new AbortController().signal;

describe('a guarded call of a model without a price', () => {
  it('counts its tokens and reports its dollars as unknown, for the run and for each call', async () => {
    const { api, model } = await fakeApi({ strict: true });
    api.enqueue({ content: [{ type: 'text', text: 'a' }], usage: { input_tokens: 100, output_tokens: 10 } }, { content: [{ type: 'text', text: 'b' }] });
    const spends: (number | null)[] = [];
    const run = guardModel(model, guard, { onSpend: (_id, _usage, usd) => void spends.push(usd) });
    await run.createMessage(params('claude-sonnet-5-5'), { signal, caller: 'db-worker' });
    expect(run.spent().cost_usd).toBeCloseTo((100 * 2 + 10 * 10) / 1e6, 12);
    await run.createMessage(params('claude-next-1'), { signal, caller: 'db-worker' });
    expect(spends).toEqual([expect.any(Number), null]);
    expect(run.spent()).toMatchObject({ usage: { input_tokens: 110, output_tokens: 15 }, cost_usd: null });
  });

  it('under a task budget: no call is made, with an error that says how to give the price and is not retried', async () => {
    const { api, model } = await fakeApi({ strict: true });
    const run = guardModel(model, guard, { budget: { limitUsd: 1, spent: async () => 0 } });
    const error = await run.createMessage(params('claude-next-1'), { signal, caller: 'db-worker' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnknownModelPriceError);
    expect((error as Error).message).toMatch(/no price for model "claude-next-1", and the task has a budget .*prices/);
    expect(shouldRetry(error)).toBe(false);
    expect(api.requests).toHaveLength(0);
  });
});
