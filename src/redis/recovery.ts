import type { Redis } from 'ioredis';
import type { Claim } from '../protocol/claim.ts';
import type { Keys } from '../protocol/keys.ts';
import { parseTaskMessage } from '../protocol/task.ts';
import { claimKeyOf, pairs, resumeFrom } from './checkpoint.ts';

// Takes a task over from a holder whose heartbeat is gone (or from our own
// previous life, when ARGV[1] == ARGV[2]); refuses when someone else got
// there first. A graceful handoff does not count as a crash.
const TAKE_OVER = `
local owner = redis.call('HGET', KEYS[1], 'owner')
if owner ~= ARGV[1] then return false end
if ARGV[1] ~= ARGV[2] and redis.call('EXISTS', KEYS[2]) == 1 then return false end
redis.call('HSET', KEYS[1], 'owner', ARGV[2], 'claimed_at', ARGV[3])
if redis.call('HDEL', KEYS[1], 'handoff') == 0 then redis.call('HINCRBY', KEYS[1], 'takeovers', 1) end
return redis.call('HGETALL', KEYS[1])`;

// An entry in the active list with no checkpoint: its claimer died between
// the atomic move and the checkpoint write (or a claim reply was lost in a
// reconnect). Adopted once it has stayed so for the orphan grace.
const ADOPT = `
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
if not redis.call('LPOS', KEYS[2], ARGV[1]) then return false end
redis.call('HSET', KEYS[1], 'raw', ARGV[1], 'owner', ARGV[2], 'claimed_at', ARGV[3], 'first_claimed_at', ARGV[3], 'takeovers', '1')
return redis.call('HGETALL', KEYS[1])`;

export interface RecoveryOptions {
  redis: Redis;
  keys: Keys;
  agentId: string;
  /** How long an active entry must lack a checkpoint before it is adopted. */
  orphanGraceMs: number;
}

/**
 * Finds tasks in `tasks:active` that nobody alive holds and takes up to `max`
 * of them, with their checkpoints. `local` holds the claim keys this process
 * is running (never taken from itself). Keeps the orphan sightings between
 * calls.
 */
export function createRecovery(o: RecoveryOptions) {
  const orphansSeen = new Map<string, number>();
  return async function recover(max: number, local: ReadonlySet<string>): Promise<Claim[]> {
    if (max <= 0) return [];
    // Buffers: the exact bytes, which ADOPT's LPOS and the later LREM must match.
    const raws = await o.redis.lrangeBuffer(o.keys.active, 0, -1);
    const now = Date.now();
    const candidates = raws
      .map((raw) => {
        const parsed = parseTaskMessage(raw.toString('utf8'));
        return { raw, parsed, claimKey: claimKeyOf(raw, parsed) };
      })
      .filter((c) => !local.has(c.claimKey));
    if (candidates.length === 0) {
      orphansSeen.clear();
      return [];
    }
    const meta = o.redis.pipeline();
    for (const c of candidates) meta.hmget(o.keys.checkpoint(c.claimKey), 'owner');
    const owners = ((await meta.exec()) ?? []).map(([, v]) => (v as (string | null)[] | null)?.[0] ?? null);
    const taken: Claim[] = [];
    const stillOrphans = new Set<string>();
    for (const [i, c] of candidates.entries()) {
      if (taken.length >= max) break;
      const owner = owners[i];
      let reply: string[] | null = null;
      if (owner === null || owner === undefined) {
        stillOrphans.add(c.claimKey);
        const first = orphansSeen.get(c.claimKey) ?? now;
        orphansSeen.set(c.claimKey, first);
        if (now - first < o.orphanGraceMs) continue;
        reply = (await o.redis.eval(ADOPT, 2, o.keys.checkpoint(c.claimKey), o.keys.active, c.raw, o.agentId, now)) as string[] | null;
      } else {
        reply = (await o.redis.eval(
          TAKE_OVER,
          2,
          o.keys.checkpoint(c.claimKey),
          o.keys.agentHeartbeat(owner),
          owner,
          o.agentId,
          now,
        )) as string[] | null;
      }
      if (!reply) continue;
      const hash = pairs(reply);
      taken.push({
        raw: c.raw,
        parsed: c.parsed,
        claimKey: c.claimKey,
        claimedAt: Number(hash.first_claimed_at) || now,
        resume: resumeFrom(hash),
      });
    }
    for (const key of orphansSeen.keys()) if (!stillOrphans.has(key)) orphansSeen.delete(key);
    return taken;
  };
}

/** Marks the tasks a stopping holder leaves behind, so the next holder does not count a crash. */
export async function handOff(redis: Redis, keys: Keys, claimKeys: Iterable<string>): Promise<void> {
  const p = redis.pipeline();
  for (const k of claimKeys) p.hset(keys.checkpoint(k), 'handoff', '1');
  if (p.length) await p.exec();
}
