import type { Redis } from 'ioredis';
import type { Keys } from '../protocol/keys.ts';

/** A worker's prompt as the console shows it: the first user message of its latest attempt. */
export interface StoredPrompt {
  attempt: number;
  /** Epoch ms it was sent. */
  at: number;
  prompt: string;
}

// Field and expiry in one command: a hash that outlives a crash between the two would never expire.
const RECORD_PROMPT = `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1`;

/**
 * Keeps a worker's prompt (already scrubbed) in `orch:{domain}:prompts:{claimKey}`,
 * field = worker, the latest attempt winning. Not in the checkpoint: that is
 * deleted at publication, and the console shows finished tasks too. The hash
 * expires `ttlSeconds` after its last write, so it cannot grow without bound.
 */
export async function recordPrompt(
  redis: Redis,
  keys: Keys,
  p: { claimKey: string; worker: string; attempt: number; prompt: string; ttlSeconds: number; at?: number },
): Promise<void> {
  const value: StoredPrompt = { attempt: p.attempt, at: p.at ?? Date.now(), prompt: p.prompt };
  await redis.eval(RECORD_PROMPT, 1, keys.prompts(p.claimKey), p.worker, JSON.stringify(value), String(Math.max(1, Math.ceil(p.ttlSeconds))));
}

/** Reads a prompts hash (as HGETALL returns it); a damaged entry is left out rather than failing the page. */
export function parsePrompts(hash: Record<string, string>): Record<string, StoredPrompt> {
  const out: Record<string, StoredPrompt> = {};
  for (const [worker, text] of Object.entries(hash)) {
    try {
      const v = JSON.parse(text) as Partial<StoredPrompt>;
      if (typeof v.prompt === 'string') out[worker] = { attempt: Number(v.attempt) || 0, at: Number(v.at) || 0, prompt: v.prompt };
    } catch {
      // another writer's or a damaged value: shown as missing
    }
  }
  return out;
}
