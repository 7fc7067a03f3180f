import type { Redis } from 'ioredis';
import type { Claim } from '../protocol/claim.ts';
import type { Keys } from '../protocol/keys.ts';
import { rawForJson } from '../protocol/rawMessage.ts';
import { parseTaskMessage } from '../protocol/task.ts';
import { claimKeyOf } from './checkpoint.ts';
import { luaScript } from './script.ts';

// Moves up to ARGV[1] items in one round trip, so a listener with many free
// slots fills them at once instead of one BLMOVE each.
const CLAIM_MANY = luaScript(`
local out = {}
for i = 1, tonumber(ARGV[1]) do
  local v = redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'LEFT')
  if not v then break end
  out[#out + 1] = v
end
return out`);

export interface QueueOptions {
  keys: Keys;
  agentId: string;
  /** The connection for ordinary commands. */
  redis: Redis;
  /** A connection of its own for the blocking BLMOVE. */
  blocking: Redis;
}

// Records a batch of claims in one command. For each: its checkpoint (owner =
// this agent) and, for a valid task, `in_progress`. A message whose
// checkpoint already exists is a second delivery of a task in flight (the
// same task id, or the same unparseable text): it is removed from the active
// list and dead-lettered, and the first delivery publishes the task's one
// result. The reply per claim says what the publication needs to know of
// the producer's record: HSET answers how many of status and started_at were
// new (1: status was there and no claim came before; 2: the producer has
// not written it yet; 0: claimed before, an old error field may be there).
// KEYS: active, dead letters, then checkpoint and result per claim.
// ARGV: agent, claimed-at ms, claimed-at ISO, dead-letter limit, then raw, dead letter, valid per claim.
const RECORD_CLAIMS = luaScript(`
local out = {}
for i = 0, (#KEYS - 2) / 2 - 1 do
  local checkpoint, result = KEYS[3 + 2 * i], KEYS[4 + 2 * i]
  local raw, dead, valid = ARGV[5 + 3 * i], ARGV[6 + 3 * i], ARGV[7 + 3 * i]
  if redis.call('EXISTS', checkpoint) == 1 then
    redis.call('LREM', KEYS[1], 1, raw)
    redis.call('LPUSH', KEYS[2], dead)
    redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[4]) - 1)
    out[#out + 1] = 0
  else
    redis.call('HSET', checkpoint, 'raw', raw, 'owner', ARGV[1], 'claimed_at', ARGV[2], 'first_claimed_at', ARGV[2], 'takeovers', '0')
    if valid == '1' then
      local added = redis.call('HSET', result, 'status', 'in_progress', 'started_at', ARGV[3])
      out[#out + 1] = added == 1 and 2 or (added == 2 and 3 or 4)
    else
      out[#out + 1] = 1
    end
  end
end
return out`);

const RESULT_RECORD = { 1: undefined, 2: 'seen', 3: 'missing', 4: 'unknown' } as const;

/**
 * Claims up to `max` tasks: at once when the queue has them, else blocks up to
 * `timeoutSeconds` for one. Each claim is atomic (`LMOVE`/`BLMOVE pending
 * active RIGHT LEFT`, PROTOCOL.md); then, in one command for the batch,
 * each gets its checkpoint and valid tasks are marked `in_progress`
 * (RECORD_CLAIMS). The "claimed by" line is the caller's to write.
 * Returns [] when the wait ran out.
 */
export async function claimTasks(q: QueueOptions, max: number, timeoutSeconds: number, deadLetterLimit = 10_000): Promise<Claim[]> {
  const { keys } = q;
  // Buffer replies: the bytes as claimed, never round-tripped through a JS string (see Claim.raw).
  // One free slot (the usual case under load, as tasks finish one by one): BLMOVE alone, which
  // returns at once when the queue has one. More: the script, one round trip for all of them.
  let raws = max > 1 ? ((await CLAIM_MANY.runBuffer(q.redis, 2, keys.pending, keys.active, max)) as Buffer[]) : [];
  if (raws.length === 0) {
    const one = await q.blocking.blmoveBuffer(keys.pending, keys.active, 'RIGHT', 'LEFT', timeoutSeconds);
    raws = one === null ? [] : [one];
  }
  if (raws.length === 0) return [];
  const claimedAt = Date.now();
  const claims = raws.map((raw): Claim => {
    const parsed = parseTaskMessage(raw.toString('utf8'));
    return { raw, parsed, claimKey: claimKeyOf(raw, parsed), claimedAt };
  });
  const started = new Date(claimedAt).toISOString();
  const keyList: string[] = [keys.active, keys.deadLetters];
  const args: (string | Buffer | number)[] = [q.agentId, claimedAt, started, deadLetterLimit];
  for (const { raw, parsed, claimKey } of claims) {
    const id = parsed.ok ? parsed.task.task_id : '';
    const deadLetter = JSON.stringify({
      reason: `a second delivery of ${claimKey} while the first is in flight; the first publishes the result`,
      task_id: id || null,
      agent_id: q.agentId,
      at: started,
      ...rawForJson(raw),
    });
    keyList.push(keys.checkpoint(claimKey), keys.result(id));
    args.push(raw, deadLetter, parsed.ok ? '1' : '0');
  }
  const replies = (await RECORD_CLAIMS.run(q.redis, keyList.length, ...keyList, ...args)) as number[];
  return claims.flatMap((claim, i) => {
    const reply = replies[i] as keyof typeof RESULT_RECORD | 0;
    if (reply === 0) return [];
    const resultRecord = RESULT_RECORD[reply];
    return [resultRecord ? { ...claim, resultRecord } : claim];
  });
}
