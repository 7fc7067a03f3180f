import type { Redis } from 'ioredis';
import type { Claim } from '../protocol/claim.ts';
import type { Keys } from '../protocol/keys.ts';
import { parseTaskMessage, type ParsedTask } from '../protocol/task.ts';
import { taskRefOf, type TaskRef } from '../protocol/taskRef.ts';
import { pairs, resumeFrom } from './checkpoint.ts';
import { claimToken } from './queue.ts';
import { resend } from './retry.ts';
import { luaFile } from './script.ts';

// Takeovers, each giving the new holder a fencing token above the previous
// one (src/redis/lua/includes/newHolder.lua); each file's header has its KEYS and ARGV.
// A holder's heartbeat gone: its task is taken over (takeOver.lua).
const TAKE_OVER = luaFile('takeOver');
// An active entry with no checkpoint past the orphan grace is adopted (adopt.lua).
const ADOPT = luaFile('adopt');
// A checkpoint whose message is in no queue and whose holder is gone (resumeOrphan.lua).
const RESUME_ORPHAN = luaFile('resumeOrphan');

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
  const taker = (raw: Buffer, parsed: ParsedTask, ref: TaskRef, now: number, hash: Record<string, string>): Claim => {
    return {
      raw,
      parsed,
      ref,
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
        return { raw, parsed, ref: taskRefOf(raw, parsed) };
      })
      .filter((c) => !local.has(c.ref.key));
    if (candidates.length === 0) {
      orphansSeen.clear();
      return [];
    }
    const meta = o.redis.pipeline();
    for (const c of candidates) meta.hmget(o.keys.checkpoint(c.ref.key), 'owner');
    const owners = ((await meta.exec()) ?? []).map(([, v]) => (v as (string | null)[] | null)?.[0] ?? null);
    const taken: Claim[] = [];
    const stillOrphans = new Set<string>();
    for (const [i, c] of candidates.entries()) {
      if (taken.length >= max) break;
      const owner = owners[i];
      const checkpoint = o.keys.checkpoint(c.ref.key);
      let reply: string[] | null = null;
      if (owner === null || owner === undefined) {
        stillOrphans.add(c.ref.key);
        const first = orphansSeen.get(c.ref.key) ?? now;
        orphansSeen.set(c.ref.key, first);
        if (now - first < o.orphanGraceMs) continue;
        reply = await run(ADOPT, [checkpoint, o.keys.active, o.keys.fence], c.raw, o.agentId, now, claimToken(o.agentId));
      } else {
        reply = await run(TAKE_OVER, [checkpoint, o.keys.agentHeartbeat(owner), o.keys.fence], owner, o.agentId, now, claimToken(o.agentId));
      }
      if (!reply) continue;
      taken.push(taker(c.raw, c.parsed, c.ref, now, pairs(reply)));
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
        if (!reply) continue;
        // The checkpoint is named by its message's key (taskRefOf gives back the name it was found under).
        const parsed = parseTaskMessage(raw.toString('utf8'));
        taken.push(taker(raw, parsed, taskRefOf(raw, parsed), now, pairs(reply)));
      }
    } while (cursor !== '0' && taken.length < max);
    return taken;
  }

  return async function recover(max: number, local: ReadonlySet<string>): Promise<Claim[]> {
    if (max <= 0) return [];
    const now = Date.now();
    const taken = await fromActiveList(max, local, now);
    if (passes++ % CHECKPOINT_SCAN_EVERY !== 0 || taken.length >= max) return taken;
    const more = await fromCheckpoints(max - taken.length, local, new Set(taken.map((c) => c.ref.key)), now);
    return taken.concat(more);
  };
}

/** Marks the tasks a stopping holder leaves behind, so the next holder does not count a crash. */
export async function handOff(redis: Redis, keys: Keys, tasks: Iterable<TaskRef>): Promise<void> {
  const p = redis.pipeline();
  for (const t of tasks) p.hset(keys.checkpoint(t.key), 'handoff', '1');
  if (p.length) await p.exec();
}
