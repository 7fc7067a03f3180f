/** What a call took of each limit the API reports, to compare with what its headers say remains. */
export interface CallSize {
  /** Uncached input and cache writes (cache reads do not count against the input limit). */
  inputTokens: number;
  outputTokens: number;
}

const LIMITS = ['requests', 'tokens', 'input-tokens', 'output-tokens'] as const;

/** The longest a pace from the headers holds calls back, whatever a reset time says (a clock far off must not stall the domain). */
export const MAX_PACE_MS = 60_000;

/**
 * How long to hold every call back after an answer, from its
 * `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-remaining`
 * and `-reset` (RFC 3339) headers: until the reset of a limit whose
 * remainder would not fit another call like this one (1 request, its input,
 * its output, both for `tokens`), so that instances slow down before the
 * API answers 429. Undefined when every limit has room (or no header came).
 *
 * @example
 * paceFromHeaders(new Headers({ 'anthropic-ratelimit-requests-remaining': '0',
 *   'anthropic-ratelimit-requests-reset': new Date(Date.now() + 2000).toISOString() }), { inputTokens: 10, outputTokens: 5 }) // ≈ 2000
 */
export function paceFromHeaders(headers: Pick<Headers, 'get'>, call: CallSize, now: number = Date.now()): number | undefined {
  const need: Record<(typeof LIMITS)[number], number> = {
    requests: 1,
    tokens: call.inputTokens + call.outputTokens,
    'input-tokens': call.inputTokens,
    'output-tokens': call.outputTokens,
  };
  let pace: number | undefined;
  for (const limit of LIMITS) {
    const remaining = Number(headers.get(`anthropic-ratelimit-${limit}-remaining`) ?? Number.NaN);
    if (!Number.isFinite(remaining) || remaining >= need[limit]) continue;
    const reset = Date.parse(headers.get(`anthropic-ratelimit-${limit}-reset`) ?? '');
    const wait = Number.isNaN(reset) ? 1000 : reset - now;
    if (wait > 0) pace = Math.max(pace ?? 0, Math.min(wait, MAX_PACE_MS));
  }
  return pace;
}
