import type { Redis } from 'ioredis';
import { logLine, type Keys } from '../protocol/keys.ts';
import type { Outcome, TaskOutput } from '../protocol/output.ts';

/** What the task actor hands over to be published. */
export interface FinalResult {
  /** The exact text that was claimed: the LREM argument. */
  raw: string;
  /** Absent when no task id could be recovered from a rejected message. */
  taskId: string | undefined;
  outcome: Outcome;
  output: TaskOutput;
  /** Human-readable reason; published with `failed` only. */
  error: string | undefined;
  /** Set when the message itself was rejected: its raw text goes to the dead letters. */
  rejection: string | undefined;
}

// All of one publication in one atomic step: the hash, the log line, the
// channel message, the LREM of the raw claimed text, and the dead letter. It
// declines (returns 0) while the producer's own `results:{id}` record is
// missing, unless forced: a final status written first would be overwritten
// with `pending` by the producer (PROTOCOL.md, "Results").
const PUBLISH = `
local force, hasId = ARGV[1], ARGV[2]
if hasId == '1' then
  if force ~= '1' and redis.call('HEXISTS', KEYS[1], 'task_id') == 0 then return 0 end
  if ARGV[8] ~= '' then
    redis.call('HSET', KEYS[1], 'task_id', ARGV[3], 'status', ARGV[4], 'outcome', ARGV[5], 'output', ARGV[6], 'completed_at', ARGV[7], 'error', ARGV[8])
  else
    redis.call('HSET', KEYS[1], 'task_id', ARGV[3], 'status', ARGV[4], 'outcome', ARGV[5], 'output', ARGV[6], 'completed_at', ARGV[7])
    redis.call('HDEL', KEYS[1], 'error')
  end
  redis.call('RPUSH', KEYS[2], ARGV[9])
  redis.call('PUBLISH', KEYS[1], ARGV[10])
end
redis.call('LREM', KEYS[3], 1, ARGV[11])
if ARGV[12] ~= '' then
  redis.call('LPUSH', KEYS[4], ARGV[12])
  redis.call('LTRIM', KEYS[4], 0, tonumber(ARGV[13]) - 1)
end
return 1`;

export interface PublishOptions {
  redis: Redis;
  keys: Keys;
  agentId: string;
  /** How long to wait for the producer's record before writing anyway. */
  graceMs: number;
  deadLetterLimit: number;
  signal?: AbortSignal;
  /** Poll period while waiting for the producer's record. */
  pollMs?: number;
}

/** The protocol's `status` word: waiters stop only on completed or failed. */
export function wireStatus(outcome: Outcome): 'completed' | 'failed' {
  return outcome === 'completed' || outcome === 'completed_with_warnings' ? 'completed' : 'failed';
}

/**
 * Publishes a final result exactly as PROTOCOL.md says, and finishes the task
 * (LREM of the raw claimed text). Waits up to `graceMs` for the producer's
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
    r.rejection === undefined
      ? ''
      : JSON.stringify({ reason: r.rejection, task_id: r.taskId ?? null, agent_id: o.agentId, at: completedAt, raw: r.raw });
  const id = r.taskId ?? '';
  const run = (force: boolean) =>
    o.redis.eval(
      PUBLISH,
      4,
      o.keys.result(id),
      o.keys.resultLogs(id),
      o.keys.active,
      o.keys.deadLetters,
      force ? '1' : '0',
      r.taskId === undefined ? '0' : '1',
      id,
      status,
      r.outcome,
      output,
      completedAt,
      error,
      logLine(`result published: ${r.outcome}${error ? ` (${error})` : ''}`),
      JSON.stringify(message),
      r.raw,
      deadLetter,
      o.deadLetterLimit,
    ) as Promise<number>;

  const started = Date.now();
  const pollMs = o.pollMs ?? 20;
  while (Date.now() - started < o.graceMs) {
    if ((await run(false)) === 1) return { waitedMs: Date.now() - started, forced: false };
    o.signal?.throwIfAborted();
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  await run(true);
  return { waitedMs: Date.now() - started, forced: true };
}

/** Appends progress lines to `results:{id}:logs`, as the peers' tailers read them. */
export async function appendLogs(redis: Redis, keys: Keys, taskId: string, messages: string[]): Promise<void> {
  if (messages.length === 0) return;
  await redis.rpush(keys.resultLogs(taskId), ...messages.map((m) => logLine(m)));
}
