import { z } from 'zod';
import type { Usage } from '../protocol/output.ts';
import { OrchestratorError } from '../errors.ts';
import { lookup } from '../models/catalog.ts';

const Rates = {
  input: z.number().nonnegative(),
  output: z.number().nonnegative(),
  cache_write: z.number().nonnegative(),
  cache_read: z.number().nonnegative(),
};

/**
 * Dollars per million tokens of one model. `cache_write` is the 5-minute
 * write (the agent loop's `ephemeral` breakpoints). `long_prompt`: the rates
 * of every token of a request whose prompt (input, cache reads and writes)
 * is over `above_tokens` (Haiku 5.5 above 100,000).
 */
export const ModelPriceSchema = z.object({
  ...Rates,
  long_prompt: z.object({ above_tokens: z.number().int().positive(), ...Rates }).optional(),
});
export type ModelPrice = z.infer<typeof ModelPriceSchema>;
export type PriceTable = Readonly<Record<string, ModelPrice>>;

const rates = (input: number, cache_write: number, cache_read: number, output: number): ModelPrice => ({ input, output, cache_write, cache_read });

/**
 * Anthropic's list prices (platform.claude.com/docs/en/about-claude/pricing
 * and each model's overview page, standard tier, read 2026-12-05) of the
 * current models and the legacy ones still served. Override or extend them
 * in the config file (`prices`).
 */
export const DEFAULT_PRICES: PriceTable = {
  // current
  'claude-fable-5-2': rates(8, 10, 0.2, 40),
  'claude-opus-5-5': rates(4, 5, 0.2, 20),
  'claude-sonnet-5-5': rates(2, 2.5, 0.1, 10),
  'claude-haiku-5-5': { ...rates(0.1, 0.125, 0.01, 0.5), long_prompt: { above_tokens: 100_000, ...rates(0.5, 0.625, 0.05, 2.5) } },
  // legacy
  'claude-fable-5-1': rates(10, 12.5, 0.25, 50),
  'claude-fable-5': rates(10, 12.5, 1, 50),
  'claude-opus-5': rates(5, 6.25, 0.5, 25),
  'claude-sonnet-5': rates(2, 2.5, 0.2, 10),
  'claude-opus-4-8': rates(5, 6.25, 0.5, 25),
  'claude-opus-4-7': rates(5, 6.25, 0.5, 25),
  'claude-opus-4-6': rates(5, 6.25, 0.5, 25),
  'claude-opus-4-5': rates(5, 6.25, 0.5, 25),
  'claude-sonnet-4-6': rates(3, 3.75, 0.3, 15),
  'claude-sonnet-4-5': rates(3, 3.75, 0.3, 15),
  'claude-haiku-4-5': rates(1, 1.25, 0.1, 5),
};

/** A budget was set while a model in use has no price: its spend could not be counted against it, so start-up stops. */
export class UnknownModelPriceError extends OrchestratorError {
  override readonly cliExitCode: number = 2;
  constructor(readonly modelId: string, why: string) {
    super(
      `no price for model ${JSON.stringify(modelId)}, and ${why}: give its price in the config file ` +
        `(--config <file>, \`prices: { ${modelId}: { input, output, cache_write, cache_read } }\` in dollars per million tokens), or remove the budget`,
    );
  }
}

/**
 * The row for a model id: the exact id, else the longest priced id it
 * starts with, so a dated snapshot (`claude-haiku-4-5-20251001`) pays its
 * family's price. Undefined when none: its calls' tokens are counted, their
 * cost is unknown.
 */
export function findPrice(modelId: string, table: PriceTable): ModelPrice | undefined {
  return lookup(table, modelId);
}

const PER_TOKEN = 1 / 1_000_000;

/**
 * What a call (or a sum of calls) of one model cost, in dollars: input,
 * output, cache writes and cache reads each at their own price; one
 * request at a time where the price has a `long_prompt` tier. Pure.
 *
 * @example
 * costOf({ input_tokens: 1000, output_tokens: 50, cache_creation_input_tokens: 900, cache_read_input_tokens: 0 },
 *   DEFAULT_PRICES['claude-sonnet-5-5']!); // 0.002 + ... dollars
 */
export function costOf(usage: Usage, price: ModelPrice): number {
  const prompt = usage.input_tokens + usage.cache_creation_input_tokens + usage.cache_read_input_tokens;
  const r = price.long_prompt !== undefined && prompt > price.long_prompt.above_tokens ? price.long_prompt : price;
  return (
    (usage.input_tokens * r.input +
      usage.output_tokens * r.output +
      usage.cache_creation_input_tokens * r.cache_write +
      usage.cache_read_input_tokens * r.cache_read) *
    PER_TOKEN
  );
}

/** Sums of dollars rounded for display and the output: to a millionth of a dollar, without float noise. */
export const roundUsd = (usd: number): number => Math.round(usd * 1e6) / 1e6;
