import type { Redis } from 'ioredis';
import { logLine, type Keys } from '../protocol/keys.ts';
import type { FinalResult } from '../protocol/claim.ts';
import type { Outcome } from '../protocol/output.ts';
import { rawForJson } from '../protocol/rawMessage.ts';
import { resend } from './retry.ts';
import { luaFile } from './script.ts';
import { FINISHED_STATES, finishedState, indexRow, TASK_INDEX_LIMIT } from './taskIndex.ts';
import { OrchestratorError } from '../errors.ts';

// All of one publication in one atomic step, only while this holder's fencing
// token is the checkpoint's, and safe to send twice (src/redis/lua/publish.lua:
// what it does, its KEYS, ARGV and replies).
export const PUBLISH = luaFile('publish');

/** Another holder took the task over: this one must not publish. */
export class OwnershipLostError extends OrchestratorError {}

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
  /** The task was cancelled while queued (cancelTask); a running one is known by its checkpoint's `cancel`. */
  cancelled?: boolean;
  /** Ids the tasks index keeps per finished state (TASK_INDEX_LIMIT; tests set fewer). */
  taskIndexLimit?: number;
}

/** An entry of `recentFailures`, as publishResult writes it (read by src/client/overview.ts for `watch` and the console). */
export interface RecentFailureEntry {
  task_id: string | null;
  outcome: string;
  error: string;
  at: string;
  agent_id: string;
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
      : JSON.stringify({ reason: r.deadLetter, task_id: r.ref.id ?? null, agent_id: o.agentId, at: completedAt, ...rawForJson(r.raw) });
  const id = r.ref.id ?? '';
  const recentFailure =
    status === 'failed'
      ? JSON.stringify({ task_id: r.ref.id ?? null, outcome: r.outcome, error, at: completedAt, agent_id: o.agentId } satisfies RecentFailureEntry)
      : '';
  const prompts = Object.entries(o.prompts ?? {}).flat();
  // The console's tasks index, in the same step (src/redis/taskIndex.ts); the script makes a failed task cancelled when a cancel reached it.
  const state = finishedState(r.outcome, o.cancelled === true);
  const row = indexRow(r.raw, { state, outcome: r.outcome, error: error || undefined, at: Date.parse(completedAt), deadLetter: r.deadLetter !== undefined });
  const lines = [...(o.lines ?? []), logLine(`result published: ${r.outcome}${error ? ` (${error})` : ''}`)];
  // Sent again after a dropped connection: a rerun of a publication that went out answers 1 (its fencing token, ARGV[18], left in the result hash).
  const run = (force: boolean) =>
    resend(o.redis, () => PUBLISH.run(
      o.redis,
      12,
      o.keys.result(id),
      o.keys.resultLogs(id),
      o.keys.active,
      o.keys.deadLetters,
      o.keys.checkpoint(r.ref.key),
      o.keys.recentFailures,
      o.keys.prompts(r.ref.key),
      ...FINISHED_STATES.map((s) => o.keys.tasksFinished(s)),
      o.keys.tasksInfo,
      force ? '1' : '0',
      r.resultRecord ?? 'unknown',
      r.ref.id === undefined ? '0' : '1',
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
      FINISHED_STATES.indexOf(state) + 1,
      row,
      o.cancelled ? '1' : '0',
      Date.parse(completedAt),
      o.taskIndexLimit ?? TASK_INDEX_LIMIT,
      ...prompts,
      ...lines,
    ) as Promise<number>, o.signal ? { signal: o.signal } : {});

  const started = Date.now();
  const pollMs = o.pollMs ?? 20;
  const check = (reply: number): boolean => {
    if (reply === -1) {
      throw new OwnershipLostError(`stale holder: task ${r.ref.key} is held by another instance now (or was published by it); not published from here`);
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
