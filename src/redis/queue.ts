import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Claim } from '../protocol/claim.ts';
import type { Keys } from '../protocol/keys.ts';
import { rawForJson } from '../protocol/rawMessage.ts';
import { parseTaskMessage } from '../protocol/task.ts';
import { claimKeyOf } from './checkpoint.ts';
import { resend } from './retry.ts';
import { luaScript } from './script.ts';

/** Names one claim (or takeover) by one holder: sent with the script, so a rerun of it is known for what it is. */
export const claimToken = (agentId: string): string => `${agentId}:${randomBytes(9).toString('base64url')}`;

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
// this agent, a new fencing token from the domain's counter, the claim
// token) and, for a valid task, `in_progress`. The reply per claim says what
// the publication needs to know of the producer's record: HSET answers how
// many of status and started_at were new (1: status was there and no claim
// came before; 2: the producer has not written it yet; 0: claimed before, an
// old error field may be there), then the fence.
//
// Idempotent for one delivery: ioredis sends a script again when its reply
// was lost in a reconnect (and resend() does when it aborted it). Each claim
// carries a token (agent id + a random nonce) that the first run stores
// (`claim_token`, with its answer in `claim_reply`): a rerun finds its own
// token and answers as the first run did. A message whose checkpoint already
// exists under another token is a true second delivery of a task in flight
// (the same task id, or the same unparseable text): it is removed from the
// active list and dead-lettered (once: `dup:{token}` marks it), and the first
// delivery publishes the task's one result. A claim whose message is no
// longer in the active list (its rerun after the message was dealt with)
// records nothing.
// KEYS: active, dead letters, fence counter, then checkpoint and result per claim.
// ARGV: agent, claimed-at ms, claimed-at ISO, dead-letter limit, then raw, dead letter, valid, token per claim.
export const RECORD_CLAIMS = luaScript(`
local out = {}
for i = 0, (#KEYS - 3) / 2 - 1 do
  local checkpoint, result = KEYS[4 + 2 * i], KEYS[5 + 2 * i]
  local raw, dead, valid, token = ARGV[5 + 4 * i], ARGV[6 + 4 * i], ARGV[7 + 4 * i], ARGV[8 + 4 * i]
  local held = redis.call('HMGET', checkpoint, 'claim_token', 'claim_reply', 'fence', 'dup:' .. token, 'raw')
  if held[1] == token then
    out[#out + 1] = held[2]
    out[#out + 1] = held[3]
  elseif held[4] then
    out[#out + 1] = '0'
    out[#out + 1] = ''
  elseif held[5] then
    redis.call('LREM', KEYS[1], 1, raw)
    redis.call('LPUSH', KEYS[2], dead)
    redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[4]) - 1)
    redis.call('HSET', checkpoint, 'dup:' .. token, '1')
    out[#out + 1] = '0'
    out[#out + 1] = ''
  elseif not redis.call('LPOS', KEYS[1], raw) then
    out[#out + 1] = '0'
    out[#out + 1] = ''
  else
    local fence = tostring(redis.call('INCR', KEYS[3]))
    local reply = '1'
    if valid == '1' then
      local added = redis.call('HSET', result, 'status', 'in_progress', 'started_at', ARGV[3])
      reply = added == 1 and '2' or (added == 2 and '3' or '4')
    end
    redis.call('HSET', checkpoint, 'raw', raw, 'owner', ARGV[1], 'claimed_at', ARGV[2], 'first_claimed_at', ARGV[2], 'takeovers', '0',
      'fence', fence, 'claim_token', token, 'claim_reply', reply)
    out[#out + 1] = reply
    out[#out + 1] = fence
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
  const keyList: string[] = [keys.active, keys.deadLetters, keys.fence];
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
    args.push(raw, deadLetter, parsed.ok ? '1' : '0', claimToken(q.agentId));
  }
  // The same arguments (tokens) on every send: a rerun answers as the first run did.
  const replies = (await resend(q.redis, () => RECORD_CLAIMS.run(q.redis, keyList.length, ...keyList, ...args))) as string[];
  return claims.flatMap((claim, i) => {
    const reply = Number(replies[2 * i]) as keyof typeof RESULT_RECORD | 0;
    if (reply === 0) return [];
    const fence = replies[2 * i + 1]!;
    const resultRecord = RESULT_RECORD[reply];
    return [resultRecord ? { ...claim, fence, resultRecord } : { ...claim, fence }];
  });
}
