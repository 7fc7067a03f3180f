import { pino } from 'pino';

const REDACTED = '[redacted]';

/** Shortest value scrubbed by exact match: shorter ones would blank out ordinary words. */
const MIN_SECRET_LENGTH = 6;

/** `scheme://user:password@` in any URL (Redis, Postgres, HTTP). */
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:@/]*:)([^\s@/]+)@/gi;
/** Anthropic API keys, whoever's they are. */
const ANTHROPIC_KEY = /\bsk-ant-[A-Za-z0-9_-]{8,}/g;

/**
 * Secret values a scrubber replaces; more can be added after it is made
 * (the credentials in the project's git config, found once the project is
 * opened), and every scrubber made from the list sees them from then on.
 */
export class SecretList {
  private sorted: string[] = [];

  constructor(initial: readonly (string | undefined)[] = []) {
    this.add(initial);
  }

  add(secrets: readonly (string | undefined)[]): void {
    const values = new Set([...this.sorted, ...secrets.filter((s): s is string => typeof s === 'string' && s.length >= MIN_SECRET_LENGTH)]);
    // Longest first, so a secret that contains another is replaced whole.
    this.sorted = [...values].sort((a, b) => b.length - a.length);
  }

  values(): readonly string[] {
    return this.sorted;
  }
}

/**
 * Replaces credentials in text: the given secret values wherever they
 * appear, the password of any URL, and anything shaped like an Anthropic
 * key.
 *
 * @example
 * const scrub = createScrubber(['s3cret']);
 * scrub('redis://default:s3cret@host:6379') // 'redis://default:[redacted]@host:6379'
 */
export function createScrubber(secrets: readonly (string | undefined)[] | SecretList): (text: string) => string {
  const list = secrets instanceof SecretList ? secrets : new SecretList(secrets);
  return (text) => {
    const values = list.values();
    // Each pattern holds a literal no match can lack ('://' whatever the case, 'sk-ant-'): a text
    // without it is not scanned. A prompt of a few KB has neither, and the URL pattern backtracks at every word.
    let out = text.includes('://') ? text.replace(URL_PASSWORD, `$1${REDACTED}@`) : text;
    if (out.includes('sk-ant-')) out = out.replace(ANTHROPIC_KEY, REDACTED);
    for (const value of values) if (out.includes(value)) out = out.split(value).join(REDACTED);
    return out;
  };
}

/**
 * The same value with every string scrubbed, Errors serialized first (so
 * their enumerable fields are seen), and ioredis' `command.args` (which
 * carries the AUTH password) replaced whole.
 */
export function scrubDeep(value: unknown, scrub: (text: string) => string, depth = 0): unknown {
  if (typeof value === 'string') return scrub(value);
  if (value === null || typeof value !== 'object' || depth > 12) return value;
  if (value instanceof Error) return scrubDeep(pino.stdSerializers.err(value), scrub, depth + 1);
  if (Array.isArray(value)) return value.map((v) => scrubDeep(v, scrub, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    out[key] = key === 'command' && v !== null && typeof v === 'object' && 'args' in v
      ? { ...(scrubDeep(v, scrub, depth + 1) as object), args: REDACTED }
      : scrubDeep(v, scrub, depth + 1);
  }
  return out;
}

/** The orchestrator's own secrets: the API key, the password (and user) of the Redis URL, and a remote project's token (its header forms are added when the project opens). */
export function ownSecrets(config: { redisUrl: string; anthropic: { apiKey?: string | undefined }; projectToken?: string | undefined }): string[] {
  const out: string[] = [];
  if (config.anthropic.apiKey) out.push(config.anthropic.apiKey);
  if (config.projectToken) out.push(config.projectToken);
  try {
    const url = new URL(config.redisUrl);
    if (url.password) out.push(decodeURIComponent(url.password), url.password);
  } catch {
    // not a URL: the config schema refuses it anyway
  }
  return out;
}
