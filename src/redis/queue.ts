import type { Redis } from 'ioredis';
import type { Claim } from '../protocol/claim.ts';
import { logLine, type Keys } from '../protocol/keys.ts';
import { parseTaskMessage } from '../protocol/task.ts';
import { claimKeyOf, writeClaim } from './checkpoint.ts';

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

export interface QueueOptions {
  keys: Keys;
  agentId: string;
  /** The connection for ordinary commands. */
  redis: Redis;
  /** A connection of its own for the blocking BLMOVE. */
  blocking: Redis;
}

/**
 * Claims up to `max` tasks: at once when the queue has them, else blocks up to
 * `timeoutSeconds` for one. Each claim is atomic (`LMOVE`/`BLMOVE pending
 * active RIGHT LEFT`, PROTOCOL.md); then, in one pipeline, each gets its
 * checkpoint (owner = this agent) and valid tasks are marked `in_progress`.
 * Returns [] when the wait ran out.
 */
export async function claimTasks(q: QueueOptions, max: number, timeoutSeconds: number): Promise<Claim[]> {
  const { keys } = q;
  let raws = (await q.redis.eval(CLAIM_MANY, 2, keys.pending, keys.active, max)) as string[];
  if (raws.length === 0) {
    const one = await q.blocking.blmove(keys.pending, keys.active, 'RIGHT', 'LEFT', timeoutSeconds);
    raws = one === null ? [] : [one];
  }
  if (raws.length === 0) return [];
  const claimedAt = Date.now();
  const claims = raws.map((raw): Claim => {
    const parsed = parseTaskMessage(raw);
    return { raw, parsed, claimKey: claimKeyOf(raw, parsed), claimedAt };
  });
  const started = new Date(claimedAt).toISOString();
  const pipeline = q.redis.pipeline();
  for (const { raw, parsed, claimKey } of claims) {
    writeClaim(pipeline, keys, claimKey, raw, q.agentId, claimedAt);
    if (!parsed.ok) continue;
    const id = parsed.task.task_id;
    pipeline.hset(keys.result(id), 'status', 'in_progress', 'started_at', started);
    pipeline.rpush(keys.resultLogs(id), logLine(`claimed by ${q.agentId}`, new Date(claimedAt)));
  }
  if (pipeline.length > 0) await pipeline.exec();
  return claims;
}
