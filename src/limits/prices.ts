import { z } from 'zod';
import type { Usage } from '../protocol/output.ts';
import { OrchestratorError } from '../errors.ts';

/** Dollars per million tokens of one model. `cache_write` is the 5-minute write (the agent loop's `ephemeral` breakpoints). */
export const ModelPriceSchema = z.object({
  input: z.number().nonnegative(),
  output: z.number().nonnegative(),
  cache_write: z.number().nonnegative(),
  cache_read: z.number().nonnegative(),
});
export type ModelPrice = z.infer<typeof ModelPriceSchema>;
export type PriceTable = Readonly<Record<string, ModelPrice>>;

/**
 * Anthropic's list prices (platform.claude.com/docs/en/about-claude/pricing,
 * standard tier, prompts within the base context) for the ids the default
 * aliases resolve to. Override or extend them in the config (`prices`).
 */
export const DEFAULT_PRICES: PriceTable = {
  'claude-opus-4-6': { input: 5, output: 25, cache_write: 6.25, cache_read: 0.5 },
  'claude-sonnet-4-6': { input: 3, output: 15, cache_write: 3.75, cache_read: 0.3 },
  'claude-haiku-4-5': { input: 1, output: 5, cache_write: 1.25, cache_read: 0.1 },
};

/** A model id the price table has no row for: the spend of its calls could not be counted, so start-up stops. */
export class UnknownModelPriceError extends OrchestratorError {
  constructor(readonly modelId: string, known: readonly string[]) {
    super(
      `no price for model ${JSON.stringify(modelId)} (priced: ${known.join(', ')}): ` +
        'add it to the config (`prices`: { "<model id>": { input, output, cache_write, cache_read } } in dollars per million tokens)',
    );
  }
}

/**
 * The row for a model id: the exact id, else the longest priced id it
 * starts with, so a dated snapshot (`claude-haiku-4-5-20251001`) pays its
 * family's price.
 */
export function priceOf(modelId: string, table: PriceTable): ModelPrice {
  const exact = table[modelId];
  if (exact) return exact;
  let best: string | undefined;
  for (const id of Object.keys(table)) if (modelId.startsWith(`${id}-`) && (best === undefined || id.length > best.length)) best = id;
  if (best !== undefined) return table[best]!;
  throw new UnknownModelPriceError(modelId, Object.keys(table).sort());
}

const PER_TOKEN = 1 / 1_000_000;

/**
 * What a call (or a sum of calls) of one model cost, in dollars: input,
 * output, cache writes and cache reads each at their own price. Pure.
 *
 * @example
 * costOf({ input_tokens: 1000, output_tokens: 50, cache_creation_input_tokens: 900, cache_read_input_tokens: 0 },
 *   DEFAULT_PRICES['claude-sonnet-4-6']!); // 0.0032 + ... dollars
 */
export function costOf(usage: Usage, price: ModelPrice): number {
  return (
    (usage.input_tokens * price.input +
      usage.output_tokens * price.output +
      usage.cache_creation_input_tokens * price.cache_write +
      usage.cache_read_input_tokens * price.cache_read) *
    PER_TOKEN
  );
}

/** Sums of dollars rounded for display and the output: to a millionth of a dollar, without float noise. */
export const roundUsd = (usd: number): number => Math.round(usd * 1e6) / 1e6;
