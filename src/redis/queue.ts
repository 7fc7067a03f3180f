import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { DEFAULT_DEAD_LETTER_LIMIT } from '../optionDefaults.ts';
import type { Claim } from '../protocol/claim.ts';
import type { Keys } from '../protocol/keys.ts';
import { rawForJson } from '../protocol/rawMessage.ts';
import { taskRefOf } from '../protocol/taskRef.ts';
import { parseTaskMessage } from '../protocol/task.ts';
import { resend } from './retry.ts';
import { luaFile } from './script.ts';

/** Names one claim (or takeover) by one holder: sent with the script, so a rerun of it is known for what it is. */
export const claimToken = (agentId: string): string => `${agentId}:${randomBytes(9).toString('base64url')}`;

// Moves up to ARGV[1] items in one round trip (src/redis/lua/claimMany.lua).
const CLAIM_MANY = luaFile('claimMany');

export interface QueueOptions {
  keys: Keys;
  agentId: string;
  /** The connection for ordinary commands. */
  redis: Redis;
  /** A connection of its own for the blocking BLMOVE. */
  blocking: Redis;
}

// Records a batch of claims in one command, idempotent for one delivery
// (src/redis/lua/recordClaims.lua: what it records, its KEYS, ARGV and reply).
export const RECORD_CLAIMS = luaFile('recordClaims');

const RESULT_RECORD = { 1: undefined, 2: 'seen', 3: 'missing', 4: 'unknown' } as const;

/**
 * Claims up to `max` tasks: at once when the queue has them, else blocks up to
 * `timeoutSeconds` for one. Each claim is atomic (`LMOVE`/`BLMOVE pending
 * active RIGHT LEFT`, PROTOCOL.md); then, in one command for the batch,
 * each gets its checkpoint and valid tasks are marked `in_progress`
 * (RECORD_CLAIMS). The "claimed by" line is the caller's to write.
 * Returns [] when the wait ran out.
 */
export async function claimTasks(q: QueueOptions, max: number, timeoutSeconds: number, deadLetterLimit = DEFAULT_DEAD_LETTER_LIMIT): Promise<Claim[]> {
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
    return { raw, parsed, ref: taskRefOf(raw, parsed), claimedAt };
  });
  const started = new Date(claimedAt).toISOString();
  const keyList: string[] = [keys.active, keys.deadLetters, keys.fence];
  const args: (string | Buffer | number)[] = [q.agentId, claimedAt, started, deadLetterLimit];
  for (const { raw, parsed, ref } of claims) {
    const id = parsed.ok ? parsed.task.task_id : '';
    const deadLetter = JSON.stringify({
      reason: `a second delivery of ${ref.key} while the first is in flight; the first publishes the result`,
      task_id: id || null,
      agent_id: q.agentId,
      at: started,
      ...rawForJson(raw),
    });
    keyList.push(keys.checkpoint(ref.key), keys.result(id));
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
