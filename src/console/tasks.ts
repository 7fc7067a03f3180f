import type { Redis } from 'ioredis';
import type { Keys } from '../protocol/keys.ts';
import { parseTaskMessage } from '../protocol/task.ts';
import { taskRefOf } from '../protocol/taskRef.ts';
import { deadLetterView } from '../redis/deadLetters.ts';
import { FINISHED_STATES, readIndexed, type FinishedState } from '../redis/taskIndex.ts';

/** The tabs of the tasks page: where a task is, or how it ended. */
export const TASK_STATES = ['queued', 'running', ...FINISHED_STATES, 'dead-lettered'] as const;
export type TaskState = (typeof TASK_STATES)[number];

export interface TaskRow {
  /** null: a dead letter whose message carried no id. */
  taskId: string | null;
  state: TaskState;
  description: string | undefined;
  /** Published, dead-lettered or created at (epoch ms), when known. */
  at: number | undefined;
  outcome: string | undefined;
  error: string | undefined;
}

export interface TaskListQuery {
  /** undefined: every state. */
  state: TaskState | undefined;
  /** An id prefix, or text found in the description (case-insensitive). */
  q: string | undefined;
  offset: number;
  limit: number;
}

export interface TaskList {
  /** How many tasks Redis holds in each state (the finished ones: as many as the index keeps). */
  counts: Record<TaskState, number>;
  rows: TaskRow[];
  offset: number;
  limit: number;
  /** Rows matching in all, when known without reading them all (no search). */
  total: number | undefined;
  more: boolean;
}

/** How deep into the queue and the dead letters a listing reads: the rest are counted, not listed. */
const LIST_SCAN = 2000;
/** Ids read from a finished-state set at first, then twice as many each time up to MAX_CHUNK: a first page reads little, a search few round trips. */
const FIRST_CHUNK = 50;
const MAX_CHUNK = 1000;

function fromMessage(raw: Buffer, state: TaskState): TaskRow {
  const text = raw.toString('utf8');
  const parsed = parseTaskMessage(text);
  // The producer's `timestamp` (PROTOCOL.md), when it sent one.
  const created = parsed.ok ? Date.parse(parsed.task.timestamp ?? '') : NaN;
  return {
    taskId: taskRefOf(raw, parsed).id ?? null,
    state,
    description: parsed.ok ? parsed.task.payload.description : undefined,
    at: Number.isNaN(created) ? undefined : created,
    outcome: undefined,
    error: parsed.ok ? undefined : parsed.reason,
  };
}

/** Newest first from the `from`-th, a chunk of ids at a time, with their rows. */
async function* finished(redis: Redis, keys: Keys, state: FinishedState, from = 0): AsyncGenerator<TaskRow> {
  for (let start = from, chunk = FIRST_CHUNK; ; start += chunk, chunk = Math.min(MAX_CHUNK, chunk * 2)) {
    const ids = await redis.zrevrange(keys.tasksFinished(state), start, start + chunk - 1);
    const rows = await readIndexed(redis, keys, ids);
    for (const [i, id] of ids.entries()) {
      const r = rows[i];
      // A row trimmed between the two reads: the id alone.
      yield { taskId: id, state, description: r?.description, at: r?.at, outcome: r?.outcome, error: r?.error };
    }
    if (ids.length < chunk) return;
  }
}

/** Several newest-first streams as one, newest first. */
export async function* merged(streams: AsyncGenerator<TaskRow>[]): AsyncGenerator<TaskRow> {
  const heads = await Promise.all(streams.map((s) => s.next()));
  for (;;) {
    let best: number | undefined;
    let bestAt = -Infinity;
    heads.forEach((h, i) => {
      if (!h.done && (h.value.at ?? 0) > bestAt) [best, bestAt] = [i, h.value.at ?? 0];
    });
    if (best === undefined) return;
    yield heads[best]!.value as TaskRow;
    heads[best] = await streams[best]!.next();
  }
}

async function* listed(redis: Redis, keys: Keys, state: TaskState | undefined, skip: number): AsyncGenerator<TaskRow> {
  // One finished state, no search: Redis skips the first rows itself.
  if (skip > 0) return yield* finished(redis, keys, state as FinishedState, skip);
  const want = (s: TaskState) => state === undefined || state === s;
  if (want('running')) for (const raw of await redis.lrangeBuffer(keys.active, 0, LIST_SCAN - 1)) yield fromMessage(raw, 'running');
  // LPUSHed: the newest first, the next to run last.
  if (want('queued')) for (const raw of await redis.lrangeBuffer(keys.pending, 0, LIST_SCAN - 1)) yield fromMessage(raw, 'queued');
  const states = FINISHED_STATES.filter(want);
  if (states.length) yield* merged(states.map((s) => finished(redis, keys, s)));
  if (want('dead-lettered')) {
    for (const entry of await redis.lrange(keys.deadLetters, 0, LIST_SCAN - 1)) {
      const d = deadLetterView(entry);
      const parsed = d.taskId === null ? undefined : parseTaskMessage(d.raw);
      yield {
        taskId: d.taskId,
        state: 'dead-lettered',
        description: parsed?.ok ? parsed.task.payload.description : undefined,
        at: d.at ? Date.parse(d.at) || undefined : undefined,
        outcome: undefined,
        error: d.reason,
      };
    }
  }
}

const matches = (row: TaskRow, q: string): boolean =>
  (row.taskId ?? '').toLowerCase().startsWith(q) || (row.description ?? '').toLowerCase().includes(q);

/**
 * The tasks page: every task Redis holds, by state, newest first (running,
 * then queued, then finished, then dead letters, when all are asked for),
 * searched by id prefix or description text, a page at a time. Reads the
 * queue and lists, and the tasks index's sets a chunk at a time until the
 * page is full: never a SCAN of the key space. A search reads until the
 * page is full or everything was read (the index is bounded).
 */
export async function listTasks(redis: Redis, keys: Keys, query: TaskListQuery): Promise<TaskList> {
  const [queued, running, dead, ...done] = (await redis
    .multi()
    .llen(keys.pending)
    .llen(keys.active)
    .llen(keys.deadLetters)
    .zcard(keys.tasksFinished('completed'))
    .zcard(keys.tasksFinished('partial'))
    .zcard(keys.tasksFinished('failed'))
    .zcard(keys.tasksFinished('cancelled'))
    .exec()
    .then((replies) => (replies ?? []).map(([, v]) => Number(v) || 0))) as number[];
  const counts = { queued: queued!, running: running!, 'dead-lettered': dead!, ...Object.fromEntries(FINISHED_STATES.map((s, i) => [s, done[i] ?? 0])) } as Record<TaskState, number>;
  const q = query.q?.trim().toLowerCase() || undefined;
  const rows: TaskRow[] = [];
  const skip = q === undefined && (FINISHED_STATES as readonly string[]).includes(query.state ?? '') ? query.offset : 0;
  let seen = skip;
  let more = false;
  for await (const row of listed(redis, keys, query.state, skip)) {
    if (q !== undefined && !matches(row, q)) continue;
    if (seen++ < query.offset) continue;
    if (rows.length === query.limit) {
      more = true;
      break;
    }
    rows.push(row);
  }
  const inState = query.state === undefined ? Object.values(counts).reduce((a, b) => a + b, 0) : counts[query.state];
  return { counts, rows, offset: query.offset, limit: query.limit, total: q === undefined ? inState : undefined, more };
}
