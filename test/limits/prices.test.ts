import { describe, expect, it } from 'vitest';
import { dbThenApiAuth, workerResult } from '../support/fixtures.ts';
import { loadConfig } from '../../src/config.ts';
import { costOf, DEFAULT_PRICES, priceOf, roundUsd, UnknownModelPriceError } from '../../src/limits/prices.ts';
import { aggregate } from '../../src/results/aggregate.ts';
import type { StepState } from '../../src/results/steps.ts';

const usage = { input_tokens: 1_000, output_tokens: 200, cache_creation_input_tokens: 4_000, cache_read_input_tokens: 50_000 };

describe('cost in dollars', () => {
  it('prices input, output, cache writes and cache reads each at their own rate', () => {
    // Sonnet 4.6: $3 in, $15 out, $3.75 per million written to the cache, $0.30 read from it.
    expect(costOf(usage, priceOf('claude-sonnet-4-6', DEFAULT_PRICES))).toBeCloseTo(0.003 + 0.003 + 0.015 + 0.015, 12);
    // Opus 4.6: $5, $25, $6.25, $0.50.
    expect(costOf(usage, priceOf('claude-opus-4-6', DEFAULT_PRICES))).toBeCloseTo(0.005 + 0.005 + 0.025 + 0.025, 12);
    // Haiku 4.5: $1, $5, $1.25, $0.10.
    expect(costOf(usage, priceOf('claude-haiku-4-5', DEFAULT_PRICES))).toBeCloseTo(0.001 + 0.001 + 0.005 + 0.005, 12);
    expect(costOf({ input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 }, DEFAULT_PRICES['claude-opus-4-6']!)).toBe(0);
  });

  it('prices a dated snapshot as its family, and refuses an id it cannot price', () => {
    expect(priceOf('claude-haiku-4-5-20251001', DEFAULT_PRICES)).toEqual(DEFAULT_PRICES['claude-haiku-4-5']);
    expect(() => priceOf('claude-mystery-9', DEFAULT_PRICES)).toThrow(UnknownModelPriceError);
    expect(() => priceOf('claude-mystery-9', DEFAULT_PRICES)).toThrow(/prices/);
  });

  it('takes overrides and additions from the config, and stops start-up on a bad price naming the option', () => {
    const config = loadConfig({ model: 'scripted', prices: { 'claude-sonnet-4-6': { input: 1, output: 2, cache_write: 3, cache_read: 4 } } }, {});
    expect(config.prices['claude-sonnet-4-6']).toEqual({ input: 1, output: 2, cache_write: 3, cache_read: 4 });
    expect(() => loadConfig({ model: 'scripted', prices: { x: { input: -1, output: 2, cache_write: 3, cache_read: 4 } } } as never, {})).toThrow(/prices\.x\.input: /);
    expect(() => loadConfig({ model: 'scripted', taskBudgetUsd: -2 } as never, {})).toThrow(/taskBudgetUsd: /);
    expect(() => loadConfig({ model: 'scripted', tokensPerMinute: 'lots' } as never, {})).toThrow(/tokensPerMinute\.input: /);
    expect(loadConfig({ model: 'scripted', tokensPerMinute: '400000:80000' }, {}).tokensPerMinute).toEqual({ input: 400000, output: 80000 });
    expect(loadConfig({ model: 'scripted', tokensPerMinute: '5000' }, {}).tokensPerMinute).toEqual({ input: 5000, output: 5000 });
  });

  it('sums every attempt of every worker into usage.cost_usd per worker and per task', () => {
    const [db, api, auth] = dbThenApiAuth.steps;
    const u = (input: number, output: number) => ({ input_tokens: input, output_tokens: output, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 });
    const steps: StepState[] = [
      { step: db!, status: 'succeeded', attempts: 1, result: { ...workerResult('db-worker'), cost_usd: 0.25 }, spent: { usage: u(10, 5), cost_usd: 0.25 } },
      // Two attempts: the failed one's spend counts too.
      { step: api!, status: 'failed', attempts: 2, error: 'boom', spent: { usage: u(20, 10), cost_usd: 0.1 } },
      // A checkpointed result from before a takeover: its own cost.
      { step: auth!, status: 'succeeded', attempts: 1, result: { ...workerResult('auth-worker'), cost_usd: 0.05 } },
    ];
    const out = aggregate({ taskId: 't', plan: dbThenApiAuth, steps, failure: undefined, cutShort: undefined, workspace: undefined, startedAt: 0, finishedAt: 1 });
    expect(out.details['db-worker']?.usage?.cost_usd).toBe(0.25);
    expect(out.details['api-worker']?.usage).toMatchObject({ input_tokens: 20, cost_usd: 0.1 });
    expect(out.details['auth-worker']?.usage?.cost_usd).toBe(0.05);
    expect(out.usage?.cost_usd).toBe(roundUsd(0.4));
    expect(out.usage?.input_tokens).toBe(10 + 20 + 10);
  });
});
