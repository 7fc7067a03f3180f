/**
 * What the inspector is not sent unless `--inspect-full`: the task's words
 * (the prompts are built from them), what the workers are told, what the
 * model wrote back, and anything named or shaped like a secret. The state
 * machine's shape (states, event types, attempts, timings, file names,
 * outcomes) is what debugging needs, and it stays.
 */

export const REDACTED = '[redacted]';

/** Keys whose value is dropped whatever it is. */
const DROP_KEYS = new Set([
  'raw',
  'payload',
  'prompt',
  'system',
  'messages',
  'content',
  'description',
  'requirements',
  'instructions',
  'summary',
  'report',
  'dependencies',
  'apikey',
  'api_key',
  'authorization',
  'password',
  'secret',
  'token',
]);

/** `task` is the whole message in a context, a worker's instructions in the output's details. */
const DROP_WHEN_STRING = new Set(['task']);

/** Strings that are secrets whatever key holds them. */
const SECRET_TEXT = /\bsk-[A-Za-z0-9_-]{16,}|\bBearer\s+[A-Za-z0-9._~+/-]{16,}|-----BEGIN [A-Z ]*PRIVATE KEY-----/;

const MAX_DEPTH = 12;

const isPlain = (v: object): boolean => {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
};

/**
 * A copy of `value` with prompts and secrets replaced by `[redacted]`;
 * never changes `value` (it is a live actor's context). Objects that are not
 * plain data (actor references, errors) are left as they are: the
 * inspector serialises them to their ids and messages.
 */
export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return SECRET_TEXT.test(value) ? REDACTED : value;
  if (value === null || typeof value !== 'object') return value;
  if (depth > MAX_DEPTH) return REDACTED;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  if (!isPlain(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const key = k.toLowerCase();
    out[k] = DROP_KEYS.has(key) || (DROP_WHEN_STRING.has(key) && typeof v === 'string') ? REDACTED : redact(v, depth + 1);
  }
  return out;
}
