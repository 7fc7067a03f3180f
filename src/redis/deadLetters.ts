import type { Redis } from 'ioredis';
import type { Keys } from '../protocol/keys.ts';
import { parseTaskMessage } from '../protocol/task.ts';
import { luaFile } from './script.ts';
import { OrchestratorError } from '../errors.ts';

/** One entry of `orch:{domain}:dead-letters`, with the exact text LREM needs to act on it. */
export interface DeadLetterView {
  /** The list entry as stored: what requeue and discard name. */
  entry: string;
  reason: string;
  taskId: string | null;
  agentId: string | null;
  at: string | null;
  raw: string;
}

/** A requeued text that is still not a task: the message says what is wrong; nothing was changed. */
export class InvalidRequeueError extends OrchestratorError {}

/** The entry is no longer in the list (someone else requeued or discarded it). */
export class DeadLetterGoneError extends OrchestratorError {}

export function deadLetterView(entry: string): DeadLetterView {
  let parsed: Record<string, unknown> = {};
  try {
    const json: unknown = JSON.parse(entry);
    if (json && typeof json === 'object') parsed = json as Record<string, unknown>;
  } catch {
    // A damaged entry is still shown (its text as the raw message) and can be discarded.
  }
  const text = (v: unknown): string | null => (typeof v === 'string' ? v : null);
  return {
    entry,
    reason: text(parsed.reason) ?? '(no reason recorded)',
    taskId: text(parsed.task_id),
    agentId: text(parsed.agent_id),
    at: text(parsed.at),
    raw: text(parsed.raw) ?? entry,
  };
}

/** The newest dead letters, and how many there are. */
export async function readDeadLetters(redis: Redis, keys: Keys, limit = 20): Promise<{ total: number; entries: DeadLetterView[] }> {
  const [total, entries] = await Promise.all([redis.llen(keys.deadLetters), redis.lrange(keys.deadLetters, 0, limit - 1)]);
  return { total, entries: entries.map(deadLetterView) };
}

// Take the entry out and put the message on the queue in one step (src/redis/lua/requeueDeadLetter.lua).
const REQUEUE = luaFile('requeueDeadLetter');

/**
 * Puts a dead letter's message (or an edited version of it) back on the
 * queue and removes the entry. The text must be a valid task message:
 * requeueing something the listener would reject again only loops.
 */
export async function requeueDeadLetter(redis: Redis, keys: Keys, entry: string, raw: string): Promise<{ taskId: string }> {
  const parsed = parseTaskMessage(raw);
  if (!parsed.ok) throw new InvalidRequeueError(parsed.reason);
  const taskId = parsed.task.task_id;
  const moved = await REQUEUE.run(redis, 4, keys.deadLetters, keys.pending, keys.result(taskId), keys.notifications, entry, raw, taskId);
  if (moved !== 1) throw new DeadLetterGoneError('that dead letter is no longer in the list (requeued or discarded meanwhile)');
  return { taskId };
}

/** Removes one dead letter for good. */
export async function discardDeadLetter(redis: Redis, keys: Keys, entry: string): Promise<void> {
  if ((await redis.lrem(keys.deadLetters, 1, entry)) === 0) {
    throw new DeadLetterGoneError('that dead letter is no longer in the list (requeued or discarded meanwhile)');
  }
}
