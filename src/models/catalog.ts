/**
 * What the orchestrator knows about each Claude model it may send requests
 * to, from the models' pages of the documentation
 * (platform.claude.com/docs/en/models/<model>/overview and their "What's
 * new" and migration pages, read 2026-12-05). It decides the shape of every
 * request, so that each one is a request the model accepts:
 *
 * - `thinking` is never sent: each model's own default applies (adaptive on
 *   every current model, off on the legacy 4.x ones); `disabled` and manual
 *   `budget_tokens` are refused by the current models, and there is no value
 *   every model accepts. Thinking blocks are sent back as they came.
 * - `effort` (`output_config.effort`) is sent only to models that take it.
 * - No sampling parameter (temperature, top_p, top_k) is ever sent; no
 *   forced tool use (`tool_choice` `any`/`tool`); no assistant prefill.
 * - Structured outputs (`output_config.format`) where the model has them.
 */
export interface ModelInfo {
  /** `current`: the model the alias means today; `legacy`: still served, superseded; `deprecated`: retirement announced. */
  status: 'current' | 'legacy' | 'deprecated';
  /** Largest `max_tokens` the model accepts. */
  maxOutputTokens: number;
  contextWindow: number;
  /** Takes `output_config.effort`. */
  effort: boolean;
  /** Takes `output_config.format` (JSON schema). */
  structuredOutputs: boolean;
  /** As the documentation says it, for docs/model-api.md. */
  thinking: string;
}

const K = 1000;
const M = 1_000_000;

const current = (thinking: string): ModelInfo => ({
  status: 'current', maxOutputTokens: 128 * K, contextWindow: M, effort: true, structuredOutputs: true, thinking,
});

/** Model ids, full (undated) as the API lists them. A dated id (`claude-haiku-4-5-20251001`) is its family's. */
export const MODEL_CATALOG: Readonly<Record<string, ModelInfo>> = {
  'claude-sonnet-5-5': current('adaptive by default; between_tools is the least, disabled is refused'),
  'claude-opus-5-5': current('adaptive, always on'),
  'claude-haiku-5-5': current('adaptive by default'),
  'claude-fable-5-2': current('adaptive, always on'),
  'claude-fable-5-1': { ...current('adaptive, always on'), status: 'legacy' },
  'claude-fable-5': { ...current('adaptive, always on'), status: 'legacy' },
  'claude-opus-5': { ...current('adaptive by default'), status: 'legacy' },
  'claude-sonnet-5': { ...current('adaptive by default; manual thinking refused'), status: 'legacy' },
  'claude-opus-4-8': { ...current('adaptive; manual thinking refused'), status: 'legacy' },
  'claude-opus-4-7': { ...current('adaptive; manual thinking refused'), status: 'legacy' },
  'claude-opus-4-6': { status: 'legacy', maxOutputTokens: 128 * K, contextWindow: M, effort: true, structuredOutputs: true, thinking: 'off by default; adaptive on request' },
  'claude-sonnet-4-6': { status: 'legacy', maxOutputTokens: 64 * K, contextWindow: M, effort: true, structuredOutputs: true, thinking: 'off by default; adaptive on request' },
  'claude-opus-4-5': { status: 'legacy', maxOutputTokens: 64 * K, contextWindow: 200 * K, effort: true, structuredOutputs: true, thinking: 'off by default; manual (budget_tokens) on request' },
  'claude-haiku-4-5': { status: 'legacy', maxOutputTokens: 64 * K, contextWindow: 200 * K, effort: false, structuredOutputs: true, thinking: 'off by default; manual (budget_tokens) on request' },
  'claude-sonnet-4-5': { status: 'deprecated', maxOutputTokens: 64 * K, contextWindow: 200 * K, effort: false, structuredOutputs: true, thinking: 'off by default; manual (budget_tokens) on request' },
};

/**
 * The catalog's entry for an id: the exact id, else the longest one it
 * starts with followed by `-` (a dated snapshot). Undefined for an id the
 * catalog does not know: requests to it use only what every model accepts
 * (no effort, no structured outputs).
 *
 * @example
 * modelInfo('claude-haiku-4-5-20251001')?.effort // false
 */
export function modelInfo(modelId: string): ModelInfo | undefined {
  return lookup(MODEL_CATALOG, modelId);
}

/** The row of `table` for `id`: exact, else the longest key `id` extends with `-…`. */
export function lookup<T>(table: Readonly<Record<string, T>>, id: string): T | undefined {
  const exact = table[id];
  if (exact !== undefined) return exact;
  let best: string | undefined;
  for (const key of Object.keys(table)) if (id.startsWith(`${key}-`) && (best === undefined || key.length > best.length)) best = key;
  return best === undefined ? undefined : table[best];
}

/** `output_config.effort` levels (the SDK's OutputConfig). */
export const EFFORT_LEVELS = ['low', 'medium', 'high', 'xhigh', 'max'] as const;
export type Effort = (typeof EFFORT_LEVELS)[number];
