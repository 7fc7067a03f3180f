import { OrchestratorError } from '../errors.ts';

/**
 * The ids the aliases of agent files (`model: sonnet`) stand for: the
 * current model of each name (see `MODEL_CATALOG`). Override any of them,
 * or add aliases, with `--model-id <alias>=<id>` or the config
 * (`anthropic.models`).
 */
export const DEFAULT_MODEL_ALIASES: Readonly<Record<string, string>> = {
  sonnet: 'claude-sonnet-5-5',
  opus: 'claude-opus-5-5',
  haiku: 'claude-haiku-5-5',
};

/** What `inherit` (Claude Code: "the main conversation's model") means here, where there is none: this alias. */
const INHERIT_FALLBACK = 'sonnet';

export class UnknownModelAliasError extends OrchestratorError {}

/**
 * Maps an agent file's `model` (an alias, `inherit`, or a full id) to the id
 * sent to the Messages API. Full ids (`claude-…`) pass through unchanged.
 *
 * @example
 * resolveModelId('sonnet');                              // 'claude-sonnet-5-5'
 * resolveModelId('opus', { opus: 'claude-opus-4-6' });   // 'claude-opus-4-6'
 * resolveModelId('claude-haiku-4-5-20251001');           // unchanged
 */
export function resolveModelId(aliasOrId: string, overrides: Readonly<Record<string, string>> = {}): string {
  const name = aliasOrId.trim();
  const table: Record<string, string> = { ...DEFAULT_MODEL_ALIASES, ...overrides };
  const key = name.toLowerCase();
  if (key === 'inherit' || key === '') {
    return table['inherit'] ?? resolveModelId(INHERIT_FALLBACK, overrides);
  }
  const mapped = table[key];
  if (mapped !== undefined) return mapped;
  if (key.startsWith('claude-')) return name;
  const known = Object.keys(table).sort().join(', ');
  throw new UnknownModelAliasError(
    `unknown model ${JSON.stringify(aliasOrId)}: use one of ${known}, inherit, a full id such as claude-sonnet-5-5, ` +
      'or map it with --model-id <alias>=<id> or in the config (anthropic.models)',
  );
}
