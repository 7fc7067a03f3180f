import type { Redis } from 'ioredis';
import type { Claim } from '../protocol/claim.ts';
import type { Keys } from '../protocol/keys.ts';
import { parseTaskMessage } from '../protocol/task.ts';
import { claimKeyOf, pairs, resumeFrom } from './checkpoint.ts';
import { claimToken } from './queue.ts';
import { resend } from './retry.ts';
import { luaScript } from './script.ts';

// The checkpoint fields a new holder starts with: a new fencing token from
// the domain's counter (KEYS[fence]), always above the previous holder's,
// and the holder's claim token; the previous holder's batch number goes
// (src/redis/progress.ts).
const NEW_HOLDER = `
local function hold(checkpoint, fenceKey, agent, now, token)
  local fence = redis.call('INCR', fenceKey)
  -- Never at or below the holder's it replaces, even if the counter was lost.
  local before = tonumber(redis.call('HGET', checkpoint, 'fence') or '0') or 0
  if fence <= before then
    fence = before + 1
    redis.call('SET', fenceKey, fence)
  end
  fence = tostring(fence)
  redis.call('HSET', checkpoint, 'owner', agent, 'claimed_at', now, 'fence', fence, 'claim_token', token)
  redis.call('HDEL', checkpoint, 'progress_seq')
  if redis.call('HDEL', checkpoint, 'handoff') == 0 then redis.call('HINCRBY', checkpoint, 'takeovers', 1) end
end`;

// Takes a task over from a holder whose heartbeat is gone (or from our own
// previous life, when ARGV[1] == ARGV[2]); refuses when someone else got
// there first. A graceful handoff does not count as a crash. A rerun with
// the same token (a lost reply) answers as the first run did.
// KEYS: checkpoint, the owner's heartbeat, fence counter. ARGV: owner seen, agent, now, token.
const TAKE_OVER = luaScript(`${NEW_HOLDER}
local cur = redis.call('HMGET', KEYS[1], 'owner', 'claim_token')
if cur[2] == ARGV[4] then return redis.call('HGETALL', KEYS[1]) end
if cur[1] ~= ARGV[1] then return false end
if ARGV[1] ~= ARGV[2] and redis.call('EXISTS', KEYS[2]) == 1 then return false end
hold(KEYS[1], KEYS[3], ARGV[2], ARGV[3], ARGV[4])
return redis.call('HGETALL', KEYS[1])`);

// An entry in the active list with no checkpoint: its claimer died between
// the atomic move and the checkpoint write (or a claim reply was lost in a
// reconnect). Adopted once it has stayed so for the orphan grace.
// KEYS: checkpoint, active, fence counter. ARGV: raw, agent, now, token.
const ADOPT = luaScript(`
if redis.call('HGET', KEYS[1], 'claim_token') == ARGV[4] then return redis.call('HGETALL', KEYS[1]) end
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
if not redis.call('LPOS', KEYS[2], ARGV[1]) then return false end
local fence = tostring(redis.call('INCR', KEYS[3]))
redis.call('HSET', KEYS[1], 'raw', ARGV[1], 'owner', ARGV[2], 'claimed_at', ARGV[3], 'first_claimed_at', ARGV[3], 'takeovers', '1',
  'fence', fence, 'claim_token', ARGV[4])
return redis.call('HGETALL', KEYS[1])`);

// A checkpoint whose message is in no queue (neither active nor pending) and
// whose holder is gone (or is this instance, which does not run it): left
// behind by a claim that was dropped (before claims were idempotent, a lost
// reply did that). Its message goes back into the active list, where the
// publication's LREM and the peers expect it, and it is taken over.
// KEYS: checkpoint, the owner's heartbeat, fence counter, active, pending. ARGV: owner seen, agent, now, token.
const RESUME_ORPHAN = luaScript(`${NEW_HOLDER}
local cur = redis.call('HMGET', KEYS[1], 'owner', 'claim_token', 'raw')
if cur[2] == ARGV[4] then return redis.call('HGETALL', KEYS[1]) end
if cur[1] ~= ARGV[1] or not cur[3] then return false end
if ARGV[1] ~= ARGV[2] and redis.call('EXISTS', KEYS[2]) == 1 then return false end
if redis.call('LPOS', KEYS[4], cur[3]) or redis.call('LPOS', KEYS[5], cur[3]) then return false end
redis.call('LPUSH', KEYS[4], cur[3])
hold(KEYS[1], KEYS[3], ARGV[2], ARGV[3], ARGV[4])
return redis.call('HGETALL', KEYS[1])`);

export interface RecoveryOptions {
  redis: Redis;
  keys: Keys;
  agentId: string;
  /** How long an active entry must lack a checkpoint before it is adopted. */
  orphanGraceMs: number;
}

/** Every how many recovery passes the checkpoints themselves are scanned (and at the first). */
export const CHECKPOINT_SCAN_EVERY = 12;

/**
 * Finds tasks in `tasks:active` that nobody alive holds and takes up to `max`
 * of them, with their checkpoints; on the first pass and every
 * CHECKPOINT_SCAN_EVERY-th after it, also the checkpoints (SCAN) whose
 * message is in no queue and whose holder is gone. `local` holds the claim
 * keys this process is running (never taken from itself). Keeps the orphan
 * sightings between calls. Each takeover gets a new fencing token.
 */
export function createRecovery(o: RecoveryOptions) {
  const orphansSeen = new Map<string, number>();
  let passes = 0;
  const taker = (claimKey: string, raw: Buffer, now: number, hash: Record<string, string>): Claim => {
    const parsed = parseTaskMessage(raw.toString('utf8'));
    return {
      raw,
      parsed,
      claimKey,
      claimedAt: Number(hash.first_claimed_at) || now,
      resume: resumeFrom(hash),
      ...(hash.fence ? { fence: hash.fence } : {}),
    };
  };
  // Sent again after a dropped connection with the same token: a rerun answers as the first run did.
  const run = (script: typeof TAKE_OVER, keys: string[], ...args: (string | Buffer | number)[]) =>
    resend(o.redis, () => script.run(o.redis, keys.length, ...keys, ...args)) as Promise<string[] | null>;

  async function fromActiveList(max: number, local: ReadonlySet<string>, now: number): Promise<Claim[]> {
    // Buffers: the exact bytes, which ADOPT's LPOS and the later LREM must match.
    const raws = await o.redis.lrangeBuffer(o.keys.active, 0, -1);
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
      const checkpoint = o.keys.checkpoint(c.claimKey);
      let reply: string[] | null = null;
      if (owner === null || owner === undefined) {
        stillOrphans.add(c.claimKey);
        const first = orphansSeen.get(c.claimKey) ?? now;
        orphansSeen.set(c.claimKey, first);
        if (now - first < o.orphanGraceMs) continue;
        reply = await run(ADOPT, [checkpoint, o.keys.active, o.keys.fence], c.raw, o.agentId, now, claimToken(o.agentId));
      } else {
        reply = await run(TAKE_OVER, [checkpoint, o.keys.agentHeartbeat(owner), o.keys.fence], owner, o.agentId, now, claimToken(o.agentId));
      }
      if (!reply) continue;
      taken.push(taker(c.claimKey, c.raw, now, pairs(reply)));
    }
    for (const key of orphansSeen.keys()) if (!stillOrphans.has(key)) orphansSeen.delete(key);
    return taken;
  }

  async function fromCheckpoints(max: number, local: ReadonlySet<string>, skip: ReadonlySet<string>, now: number): Promise<Claim[]> {
    const prefix = o.keys.checkpoint('');
    const taken: Claim[] = [];
    let cursor = '0';
    do {
      const [next, found] = await o.redis.scan(cursor, 'MATCH', `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`, 'COUNT', 1000);
      cursor = next;
      const keys = found.filter((k) => !local.has(k.slice(prefix.length)) && !skip.has(k.slice(prefix.length)));
      if (keys.length === 0) continue;
      const meta = o.redis.pipeline();
      for (const k of keys) meta.hmgetBuffer(k, 'raw', 'owner');
      const rows = ((await meta.exec()) ?? []).map(([, v]) => (v as (Buffer | null)[] | null) ?? [null, null]);
      for (const [i, key] of keys.entries()) {
        if (taken.length >= max) return taken;
        const [raw, ownerBytes] = rows[i]!;
        if (!raw || !ownerBytes) continue;
        const owner = ownerBytes.toString('utf8');
        const reply = await run(
          RESUME_ORPHAN,
          [key, o.keys.agentHeartbeat(owner), o.keys.fence, o.keys.active, o.keys.pending],
          owner,
          o.agentId,
          now,
          claimToken(o.agentId),
        );
        if (reply) taken.push(taker(key.slice(prefix.length), raw, now, pairs(reply)));
      }
    } while (cursor !== '0' && taken.length < max);
    return taken;
  }

  return async function recover(max: number, local: ReadonlySet<string>): Promise<Claim[]> {
    if (max <= 0) return [];
    const now = Date.now();
    const taken = await fromActiveList(max, local, now);
    if (passes++ % CHECKPOINT_SCAN_EVERY !== 0 || taken.length >= max) return taken;
    const more = await fromCheckpoints(max - taken.length, local, new Set(taken.map((c) => c.claimKey)), now);
    return taken.concat(more);
  };
}

/** Marks the tasks a stopping holder leaves behind, so the next holder does not count a crash. */
export async function handOff(redis: Redis, keys: Keys, claimKeys: Iterable<string>): Promise<void> {
  const p = redis.pipeline();
  for (const k of claimKeys) p.hset(keys.checkpoint(k), 'handoff', '1');
  if (p.length) await p.exec();
}
