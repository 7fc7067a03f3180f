import type { Redis } from 'ioredis';
import type { Keys } from '../protocol/keys.ts';
import type { Outcome } from '../protocol/output.ts';
import { parseTaskMessage } from '../protocol/task.ts';

/**
 * The console's index of published tasks: one sorted set per finished state
 * (task id → publication time) and one hash of rows (what the tasks page
 * shows: description, outcome, error), written by each publication, in its
 * Lua step (src/redis/lua/publish.lua): three commands more in it, no round
 * trip of its own. Redis
 * keeps every `results:{id}` record, but finding them means a SCAN of the
 * whole key space, and the records hold no description: the index makes the
 * tasks page a ZREVRANGE and an HMGET. Bounded: the newest TASK_INDEX_LIMIT
 * ids of each state, the rest trimmed (with their rows) by the write that
 * goes over; an older task is still found by its id.
 */

export const FINISHED_STATES = ['completed', 'partial', 'failed', 'cancelled'] as const;
export type FinishedState = (typeof FINISHED_STATES)[number];

/** Ids kept per finished state. */
export const TASK_INDEX_LIMIT = 5000;
/** Characters of the description and the error a row keeps. */
const TEXT_CAP = 300;

/** A published task as the index keeps it. */
export interface IndexedTask {
  taskId: string;
  state: FinishedState;
  description: string | undefined;
  outcome: string;
  error: string | undefined;
  /** Published at, epoch ms. */
  at: number;
  /** Its message also went to the dead letters. */
  deadLetter: boolean;
}

/** A cancel ends a task failed; one that came as it completed anyway does not make it cancelled. */
export function finishedState(outcome: Outcome, cancelled: boolean): FinishedState {
  if (cancelled && outcome === 'failed') return 'cancelled';
  if (outcome === 'completed' || outcome === 'completed_with_warnings') return 'completed';
  return outcome === 'partial' ? 'partial' : 'failed';
}

const cap = (text: string | undefined): string | undefined => (text === undefined || text.length <= TEXT_CAP ? text : `${text.slice(0, TEXT_CAP - 1)}…`);

/** A task's row as the publication writes it: its description read off the message it published. */
export function indexRow(raw: Buffer, o: Omit<IndexedTask, 'taskId' | 'description'>): string {
  const parsed = parseTaskMessage(raw.toString('utf8'));
  return JSON.stringify({
    state: o.state,
    description: cap(parsed.ok ? parsed.task.payload.description : undefined),
    outcome: o.outcome,
    error: cap(o.error),
    at: o.at,
    dead_letter: o.deadLetter || undefined,
  });
}

/** The rows of these ids, in their order; undefined for an id the index does not hold (trimmed, or published before it existed). */
export async function readIndexed(redis: Redis, keys: Keys, ids: string[]): Promise<(IndexedTask | undefined)[]> {
  if (ids.length === 0) return [];
  const rows = await redis.hmget(keys.tasksInfo, ...ids);
  return rows.map((text, i) => {
    if (text === null) return undefined;
    try {
      const r = JSON.parse(text) as { state?: string; description?: string; outcome?: string; error?: string; at?: number; dead_letter?: boolean };
      const state = (FINISHED_STATES as readonly string[]).includes(r.state ?? '') ? (r.state as FinishedState) : 'failed';
      return { taskId: ids[i]!, state, description: r.description, outcome: String(r.outcome ?? ''), error: r.error, at: Number(r.at) || 0, deadLetter: r.dead_letter === true };
    } catch {
      return undefined;
    }
  });
}
