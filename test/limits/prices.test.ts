import { describe, expect, it } from 'vitest';
import { dbThenApiAuth, workerResult } from '../support/fixtures.ts';
import { loadConfig } from '../../src/config.ts';
import { costOf, DEFAULT_PRICES, findPrice, roundUsd } from '../../src/limits/prices.ts';

const priceOf = (id: string) => findPrice(id, DEFAULT_PRICES)!;
import { aggregate } from '../../src/results/aggregate.ts';
import type { StepState } from '../../src/results/steps.ts';

const usage = { input_tokens: 1_000, output_tokens: 200, cache_creation_input_tokens: 4_000, cache_read_input_tokens: 50_000 };

describe('cost in dollars', () => {
  it('prices input, output, cache writes and cache reads each at their own rate', () => {
    // Sonnet 4.6: $3 in, $15 out, $3.75 per million written to the cache, $0.30 read from it.
    expect(costOf(usage, priceOf('claude-sonnet-4-6'))).toBeCloseTo(0.003 + 0.003 + 0.015 + 0.015, 12);
    // Opus 4.6: $5, $25, $6.25, $0.50.
    expect(costOf(usage, priceOf('claude-opus-4-6'))).toBeCloseTo(0.005 + 0.005 + 0.025 + 0.025, 12);
    // Haiku 4.5: $1, $5, $1.25, $0.10.
    expect(costOf(usage, priceOf('claude-haiku-4-5'))).toBeCloseTo(0.001 + 0.001 + 0.005 + 0.005, 12);
    expect(costOf({ input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 }, DEFAULT_PRICES['claude-opus-4-6']!)).toBe(0);
  });

  it('prices the current models as the pricing pages list them', () => {
    // Sonnet 5.5: $2 in, $10 out, $2.50 per million written to the cache, $0.10 read from it.
    expect(costOf(usage, priceOf('claude-sonnet-5-5'))).toBeCloseTo(0.002 + 0.002 + 0.01 + 0.005, 12);
    // Opus 5.5: $4, $20, $5, $0.20.
    expect(costOf(usage, priceOf('claude-opus-5-5'))).toBeCloseTo(0.004 + 0.004 + 0.02 + 0.01, 12);
    // Fable 5.2: $8, $40, $10, $0.20.
    expect(costOf(usage, priceOf('claude-fable-5-2'))).toBeCloseTo(0.008 + 0.008 + 0.04 + 0.01, 12);
  });

  it('prices a Haiku 5.5 request by its prompt: every token at the higher rate past 100,000 prompt tokens', () => {
    const haiku = priceOf('claude-haiku-5-5');
    // 55,000 prompt tokens: $0.10, $0.50, $0.125, $0.01.
    expect(costOf(usage, haiku)).toBeCloseTo(0.0001 + 0.0001 + 0.0005 + 0.0005, 12);
    // 100,001 prompt tokens: $0.50, $2.50, $0.625, $0.05, output included.
    const long = { input_tokens: 1, output_tokens: 1_000, cache_creation_input_tokens: 0, cache_read_input_tokens: 100_000 };
    expect(costOf(long, haiku)).toBeCloseTo((1 * 0.5 + 1_000 * 2.5 + 100_000 * 0.05) / 1e6, 12);
  });

  it('prices a dated snapshot as its family, and has no price for an id it does not know', () => {
    expect(priceOf('claude-haiku-4-5-20251001')).toEqual(DEFAULT_PRICES['claude-haiku-4-5']);
    // The longest family wins: claude-sonnet-5-5-<date> is Sonnet 5.5, not Sonnet 5.
    expect(priceOf('claude-sonnet-5-5-20261001')).toEqual(DEFAULT_PRICES['claude-sonnet-5-5']);
    expect(findPrice('claude-mystery-9', DEFAULT_PRICES)).toBeUndefined();
  });

  it('reports a sum with an unpriced worker as unknown, not as the priced part', () => {
    const [db, api] = dbThenApiAuth.steps;
    const u = { input_tokens: 10, output_tokens: 5, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
    const steps: StepState[] = [
      { step: db!, status: 'succeeded', attempts: 1, result: { ...workerResult('db-worker'), cost_usd: 0.25 }, spent: { usage: u, cost_usd: 0.25 } },
      { step: api!, status: 'succeeded', attempts: 1, result: { ...workerResult('api-worker'), cost_usd: null }, spent: { usage: u, cost_usd: null } },
    ];
    const out = aggregate({ taskId: 't', plan: dbThenApiAuth, steps, failure: undefined, cutShort: undefined, workspace: undefined, startedAt: 0, finishedAt: 1 });
    expect(out.details['db-worker']?.usage?.cost_usd).toBe(0.25);
    expect(out.details['api-worker']?.usage?.cost_usd).toBeNull();
    expect(out.usage).toMatchObject({ input_tokens: 20, cost_usd: null });
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
