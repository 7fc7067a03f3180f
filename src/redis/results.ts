import type { Redis } from 'ioredis';
import { logLine, type Keys } from '../protocol/keys.ts';
import type { FinalResult } from '../protocol/claim.ts';
import type { Outcome } from '../protocol/output.ts';
import { rawForJson } from '../protocol/rawMessage.ts';
import { resend } from './retry.ts';
import { luaScript } from './script.ts';

// All of one publication in one atomic step: the hash, the log lines, the
// channel message, the LREM of the raw claimed text, the dead letter, the
// workers' prompts kept for the console, and the deletion of the
// checkpoint. It publishes only while this holder's fencing token (ARGV[18])
// is the checkpoint's (-1 otherwise: another holder took it over, so exactly
// one result is published; without a token, while ARGV[14] is the owner),
// and declines (0) while the producer's own `results:{id}`
// record is missing, unless forced: a final status written first would be
// overwritten with `pending` by the producer (PROTOCOL.md, "Results"). What
// the claim already learnt of that record (ARGV[2]) spares the look.
// Safe to send twice: a publication that went out leaves its token in the
// result hash (field `fence`, written by the same HSET), and a rerun of it
// (its reply was lost) finds it there and answers 1 without writing
// anything. (A rejected message without an id has no hash: a rerun of its
// dead-lettering answers -1 and does nothing.)
// KEYS: result, logs, active, dead letters, checkpoint, recent failures, prompts.
// ARGV: 1 force, 2 record (seen|missing|unknown), 3 has id, 4 id, 5 status, 6 outcome,
// 7 output, 8 completed at, 9 error, 10 message, 11 raw, 12 dead letter, 13 dead-letter
// limit, 14 owner, 15 recent failure, 16 prompt TTL, 17 number of prompt pairs, 18 fence,
// then the prompt pairs, then the log lines.
export const PUBLISH = luaScript(`
if ARGV[18] ~= '' then
  if redis.call('HGET', KEYS[5], 'fence') ~= ARGV[18] then
    if ARGV[3] == '1' and redis.call('HGET', KEYS[1], 'fence') == ARGV[18] then return 1 end
    return -1
  end
elseif ARGV[14] ~= '' and redis.call('HGET', KEYS[5], 'owner') ~= ARGV[14] then return -1 end
local prompts = tonumber(ARGV[17])
if ARGV[3] == '1' then
  if ARGV[1] ~= '1' and ARGV[2] ~= 'seen' and redis.call('HEXISTS', KEYS[1], 'task_id') == 0 then return 0 end
  local fields = { 'task_id', ARGV[4], 'status', ARGV[5], 'outcome', ARGV[6], 'output', ARGV[7], 'completed_at', ARGV[8] }
  if ARGV[9] ~= '' then fields[#fields + 1] = 'error'; fields[#fields + 1] = ARGV[9] end
  if ARGV[18] ~= '' then fields[#fields + 1] = 'fence'; fields[#fields + 1] = ARGV[18] end
  redis.call('HSET', KEYS[1], unpack(fields))
  if ARGV[9] == '' and ARGV[2] ~= 'seen' then redis.call('HDEL', KEYS[1], 'error') end
  redis.call('RPUSH', KEYS[2], unpack(ARGV, 19 + 2 * prompts))
  redis.call('PUBLISH', KEYS[1], ARGV[10])
end
redis.call('LREM', KEYS[3], 1, ARGV[11])
if ARGV[12] ~= '' then
  redis.call('LPUSH', KEYS[4], ARGV[12])
  redis.call('LTRIM', KEYS[4], 0, tonumber(ARGV[13]) - 1)
end
redis.call('DEL', KEYS[5])
if ARGV[15] ~= '' then
  redis.call('LPUSH', KEYS[6], ARGV[15])
  redis.call('LTRIM', KEYS[6], 0, 49)
end
if prompts > 0 then
  redis.call('HSET', KEYS[7], unpack(ARGV, 19, 18 + 2 * prompts))
  redis.call('EXPIRE', KEYS[7], ARGV[16])
end
return 1`);

/** Another holder took the task over: this one must not publish. */
export class OwnershipLostError extends Error {
  override name = 'OwnershipLostError';
}

export interface PublishOptions {
  redis: Redis;
  keys: Keys;
  agentId: string;
  /** Publish only while this agent holds the task's checkpoint; undefined skips the check (cancel of a queued task). */
  owner: string | undefined;
  /** How long to wait for the producer's record before writing anyway. */
  graceMs: number;
  deadLetterLimit: number;
  signal?: AbortSignal;
  /** Poll period while waiting for the producer's record. */
  pollMs?: number;
  /** Progress lines not written yet (already stamped): they go out with the publication. */
  lines?: string[];
  /** The workers' prompts (StoredPrompt JSON per worker), kept in `orch:{domain}:prompts:{id}` for `promptTtlSeconds`. */
  prompts?: Record<string, string>;
  promptTtlSeconds?: number;
}

/** The protocol's `status` word: waiters stop only on completed or failed. */
export function wireStatus(outcome: Outcome): 'completed' | 'failed' {
  return outcome === 'completed' || outcome === 'completed_with_warnings' ? 'completed' : 'failed';
}

/**
 * Publishes a final result exactly as PROTOCOL.md says, and finishes the task
 * (LREM of the exact claimed bytes, checkpoint deleted). Waits up to `graceMs` for the producer's
 * `results:{id}` record, then writes anyway for producers that never create it.
 */
export async function publishResult(o: PublishOptions, r: FinalResult): Promise<{ waitedMs: number; forced: boolean }> {
  const status = wireStatus(r.outcome);
  const completedAt = new Date().toISOString();
  const output = JSON.stringify(r.output);
  const error = status === 'failed' ? (r.error ?? 'failed') : '';
  const message: Record<string, string> = { status, output, completed_at: completedAt };
  if (error) message.error = error;
  const deadLetter =
    r.deadLetter === undefined
      ? ''
      : JSON.stringify({ reason: r.deadLetter, task_id: r.taskId ?? null, agent_id: o.agentId, at: completedAt, ...rawForJson(r.raw) });
  const id = r.taskId ?? '';
  const recentFailure =
    status === 'failed'
      ? JSON.stringify({ task_id: r.taskId ?? null, outcome: r.outcome, error, at: completedAt, agent_id: o.agentId })
      : '';
  const prompts = Object.entries(o.prompts ?? {}).flat();
  const lines = [...(o.lines ?? []), logLine(`result published: ${r.outcome}${error ? ` (${error})` : ''}`)];
  // Sent again after a dropped connection: a rerun of a publication that went out answers 1 (the token in KEYS[8]).
  const run = (force: boolean) =>
    resend(o.redis, () => PUBLISH.run(
      o.redis,
      7,
      o.keys.result(id),
      o.keys.resultLogs(id),
      o.keys.active,
      o.keys.deadLetters,
      o.keys.checkpoint(r.claimKey),
      o.keys.recentFailures,
      o.keys.prompts(r.claimKey),
      force ? '1' : '0',
      r.resultRecord ?? 'unknown',
      r.taskId === undefined ? '0' : '1',
      id,
      status,
      r.outcome,
      output,
      completedAt,
      error,
      JSON.stringify(message),
      r.raw,
      deadLetter,
      o.deadLetterLimit,
      o.owner ?? '',
      recentFailure,
      String(Math.max(1, Math.ceil(o.promptTtlSeconds ?? 1))),
      prompts.length / 2,
      r.fence ?? '',
      ...prompts,
      ...lines,
    ) as Promise<number>, o.signal ? { signal: o.signal } : {});

  const started = Date.now();
  const pollMs = o.pollMs ?? 20;
  const check = (reply: number): boolean => {
    if (reply === -1) {
      throw new OwnershipLostError(`stale holder: task ${r.claimKey} is held by another instance now (or was published by it); not published from here`);
    }
    return reply === 1;
  };
  while (Date.now() - started < o.graceMs) {
    if (check(await run(false))) return { waitedMs: Date.now() - started, forced: false };
    o.signal?.throwIfAborted();
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  check(await run(true));
  return { waitedMs: Date.now() - started, forced: true };
}
