import type { Redis } from 'ioredis';
import type { Keys } from '../protocol/keys.ts';
import type { Outcome } from '../protocol/output.ts';
import { luaFile } from './script.ts';

/**
 * The console's index of published tasks: one sorted set per finished state
 * (task id → publication time) and one hash of rows (what the tasks page
 * shows: description, outcome, error), written with each publication. Redis
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

// src/redis/lua/indexTask.lua: the id into its state's set, its row, the trim; one step.
const INDEX_TASK = luaFile('indexTask');

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

export function finishedState(outcome: Outcome, cancelled: boolean): FinishedState {
  if (cancelled) return 'cancelled';
  if (outcome === 'completed' || outcome === 'completed_with_warnings') return 'completed';
  return outcome === 'partial' ? 'partial' : 'failed';
}

const cap = (text: string | undefined): string | undefined => (text === undefined || text.length <= TEXT_CAP ? text : `${text.slice(0, TEXT_CAP - 1)}…`);

/** Adds (or moves) one published task; the set it joins is trimmed to `limit`. */
export async function indexFinished(redis: Redis, keys: Keys, task: IndexedTask, limit = TASK_INDEX_LIMIT): Promise<void> {
  const row = JSON.stringify({
    state: task.state,
    description: cap(task.description),
    outcome: task.outcome,
    error: cap(task.error),
    at: task.at,
    dead_letter: task.deadLetter || undefined,
  });
  await INDEX_TASK.run(redis, 5, ...FINISHED_STATES.map((s) => keys.tasksFinished(s)), keys.tasksInfo, FINISHED_STATES.indexOf(task.state) + 1, task.taskId, task.at, row, limit);
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
