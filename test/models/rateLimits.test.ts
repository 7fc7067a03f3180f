import { describe, expect, it } from 'vitest';
import { MAX_PACE_MS, paceFromHeaders } from '../../src/models/rateLimits.ts';

const now = Date.parse('2026-12-05T08:00:00Z');
const at = (ms: number) => new Date(now + ms).toISOString();
const call = { inputTokens: 1000, outputTokens: 200 };

describe('pace from the rate-limit headers', () => {
  it('holds calls until the reset of a limit that would not fit another call like this one', () => {
    const h = new Headers({
      'anthropic-ratelimit-requests-remaining': '40',
      'anthropic-ratelimit-requests-reset': at(30_000),
      'anthropic-ratelimit-input-tokens-remaining': '999',
      'anthropic-ratelimit-input-tokens-reset': at(4_000),
      'anthropic-ratelimit-output-tokens-remaining': '5000',
      'anthropic-ratelimit-output-tokens-reset': at(9_000),
    });
    expect(paceFromHeaders(h, call, now)).toBe(4_000);
  });

  it('takes the latest reset of the limits that are short, and no more than MAX_PACE_MS', () => {
    const h = new Headers({
      'anthropic-ratelimit-requests-remaining': '0',
      'anthropic-ratelimit-requests-reset': at(2_000),
      'anthropic-ratelimit-tokens-remaining': '100',
      'anthropic-ratelimit-tokens-reset': at(7_000),
    });
    expect(paceFromHeaders(h, call, now)).toBe(7_000);
    h.set('anthropic-ratelimit-tokens-reset', at(3_600_000));
    expect(paceFromHeaders(h, call, now)).toBe(MAX_PACE_MS);
  });

  it('does not hold anything back while every limit has room, or without headers', () => {
    const h = new Headers({ 'anthropic-ratelimit-requests-remaining': '1', 'anthropic-ratelimit-requests-reset': at(2_000) });
    expect(paceFromHeaders(h, call, now)).toBeUndefined();
    expect(paceFromHeaders(new Headers(), call, now)).toBeUndefined();
    // A reset already past holds nothing.
    expect(paceFromHeaders(new Headers({ 'anthropic-ratelimit-requests-remaining': '0', 'anthropic-ratelimit-requests-reset': at(-5) }), call, now)).toBeUndefined();
  });
});
