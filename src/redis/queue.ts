import type { Redis } from 'ioredis';
import type { Claim } from '../protocol/claim.ts';
import { logLine, type Keys } from '../protocol/keys.ts';
import { rawForJson } from '../protocol/rawMessage.ts';
import { parseTaskMessage } from '../protocol/task.ts';
import { claimKeyOf } from './checkpoint.ts';

// Moves up to ARGV[1] items in one round trip, so a listener with many free
// slots fills them at once instead of one BLMOVE each.
const CLAIM_MANY = `
local out = {}
for i = 1, tonumber(ARGV[1]) do
  local v = redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'LEFT')
  if not v then break end
  out[#out + 1] = v
end
return out`;

// ioredis defines a Buffer-reply variant of every command at run time, but its
// types omit `evalBuffer` (and `callBuffer('eval', ...)` breaks under auto-pipelining).
interface EvalBuffer {
  evalBuffer(script: string, numkeys: number, ...args: (string | Buffer | number)[]): Promise<unknown>;
}

export interface QueueOptions {
  keys: Keys;
  agentId: string;
  /** The connection for ordinary commands. */
  redis: Redis;
  /** A connection of its own for the blocking BLMOVE. */
  blocking: Redis;
}

// Records one claim: its checkpoint (owner = this agent) and, for a valid
// task, `in_progress` and a log line. A message whose checkpoint already
// exists is a second delivery of a task in flight (the same task id, or the
// same unparseable text): it is removed from the active list and
// dead-lettered, and the first delivery publishes the task's one result.
const RECORD_CLAIM = `
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('LREM', KEYS[2], 1, ARGV[1])
  redis.call('LPUSH', KEYS[3], ARGV[6])
  redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[7]) - 1)
  return 0
end
redis.call('HSET', KEYS[1], 'raw', ARGV[1], 'owner', ARGV[2], 'claimed_at', ARGV[3], 'first_claimed_at', ARGV[3], 'takeovers', '0')
if ARGV[8] == '1' then
  redis.call('HSET', KEYS[4], 'status', 'in_progress', 'started_at', ARGV[4])
  redis.call('RPUSH', KEYS[5], ARGV[5])
end
return 1`;

/**
 * Claims up to `max` tasks: at once when the queue has them, else blocks up to
 * `timeoutSeconds` for one. Each claim is atomic (`LMOVE`/`BLMOVE pending
 * active RIGHT LEFT`, PROTOCOL.md); then, in one pipeline, each gets its
 * checkpoint and valid tasks are marked `in_progress` (RECORD_CLAIM).
 * Returns [] when the wait ran out.
 */
export async function claimTasks(q: QueueOptions, max: number, timeoutSeconds: number, deadLetterLimit = 10_000): Promise<Claim[]> {
  const { keys } = q;
  // Buffer replies: the bytes as claimed, never round-tripped through a JS string (see Claim.raw).
  let raws = (await (q.redis as unknown as EvalBuffer).evalBuffer(CLAIM_MANY, 2, keys.pending, keys.active, max)) as Buffer[];
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
  const line = logLine(`claimed by ${q.agentId}`, new Date(claimedAt));
  const pipeline = q.redis.pipeline();
  for (const { raw, parsed, claimKey } of claims) {
    const id = parsed.ok ? parsed.task.task_id : '';
    const deadLetter = JSON.stringify({
      reason: `a second delivery of ${claimKey} while the first is in flight; the first publishes the result`,
      task_id: id || null,
      agent_id: q.agentId,
      at: started,
      ...rawForJson(raw),
    });
    pipeline.eval(
      RECORD_CLAIM,
      5,
      keys.checkpoint(claimKey),
      keys.active,
      keys.deadLetters,
      keys.result(id),
      keys.resultLogs(id),
      raw,
      q.agentId,
      claimedAt,
      started,
      line,
      deadLetter,
      deadLetterLimit,
      parsed.ok ? '1' : '0',
    );
  }
  const replies = (await pipeline.exec()) ?? [];
  return claims.filter((_, i) => {
    const [error, recorded] = replies[i] ?? [];
    if (error) throw error;
    return recorded === 1;
  });
}
