import type { Redis } from 'ioredis';
import { logLine, type Keys } from '../protocol/keys.ts';
import type { TaskRef } from '../protocol/taskRef.ts';
import { resend } from './retry.ts';
import { luaFile } from './script.ts';
import { OrchestratorError } from '../errors.ts';

// A task's step in one command: checkpoint fields, then the progress lines,
// fenced and made harmless to resend by a batch number (src/redis/lua/recordProgress.lua).
export const RECORD_PROGRESS = luaFile('recordProgress');

/** A holder's write was refused: the checkpoint carries another fencing token now (a takeover), or is gone (published). */
export class StaleHolderError extends OrchestratorError {
  constructor(
    readonly taskKey: string,
    readonly fence: string,
  ) {
    super(`task ${taskKey} is no longer held under fencing token ${fence}: another instance took it over (or published it); this one stops it without publishing`);
  }
}

/** What a task's progress writer holds until it goes out: checkpoint fields (the latest value of each wins) and log lines. */
interface Pending {
  ref: TaskRef;
  /** When its first held item was written (performance.now()). */
  since: number;
  fields: Map<string, string>;
  /** Already formatted (`[time] message`), stamped when they were written, not when they went out. */
  lines: string[];
  /** Its publication is under way and carries the lines: nothing of it is sent from here any more. */
  publishing?: boolean;
  /** Callers of `save` waiting for this batch to be in Redis. */
  waiters: { resolve: () => void; reject: (error: unknown) => void; onlyFlush?: boolean }[];
}

/** How long a step nothing waits for is held at most, unless configured (`progressFlushMs`). */
export const DEFAULT_PROGRESS_FLUSH_MS = 250;

export interface ProgressWriterOptions {
  redis: Redis;
  keys: Keys;
  /** The longest a line or field that nothing waits for stays here before it is written. */
  flushMs: number;
  onError(error: unknown, task: TaskRef): void;
  /**
   * Only tasks held here under a fencing token (hold) are written: a step of
   * a task not held (published, or stopped as stale) is dropped, and a save
   * of one fails with StaleHolderError. The runtime's writers set it;
   * without it, a task with no token is written unfenced.
   */
  requireFence?: boolean;
}

/** Told once per refused write: the task's holder is stale (StaleHolderError). */
export type StaleListener = (task: TaskRef, fence: string) => void;

export interface ProgressStep {
  /** Its key names the checkpoint; its id, the log the lines go to (none without one). */
  ref: TaskRef;
  fields?: Record<string, string>;
  lines?: string[];
}

/**
 * Writes a task's progress (checkpoint fields for resume and `watch`, lines
 * for the peers' log tailers) with one command per state change of the task
 * rather than one per step: what nothing waits for (a worker started, a plan
 * note, a model wait, the spend so far) is held here and goes out with the
 * next step that must be saved (a worker's result, `save`), with the
 * publication (`lines`, then `drop`), or after `flushMs`, whichever comes
 * first. Steps of one task written in the same turn of the event loop go
 * out together.
 *
 * Order is kept: all of a task's pending fields and lines go out in one
 * command, on one connection, so a plan is never written after a result
 * that came later; the publication writes the held lines itself and deletes
 * the checkpoint, and the script writes fields only while the checkpoint
 * exists, so a late step leaves no stray hash.
 */
export function createProgressWriter(o: ProgressWriterOptions) {
  const pending = new Map<string, Pending>();
  /** Tasks with something to send this turn (a `save`). */
  const urgent = new Set<string>();
  let immediate: NodeJS.Immediate | undefined;
  let timer: NodeJS.Timeout | undefined;

  const entry = (step: ProgressStep): Pending => {
    let p = pending.get(step.ref.key);
    if (p === undefined) {
      p = { ref: step.ref, since: performance.now(), fields: new Map(), lines: [], waiters: [] };
      pending.set(step.ref.key, p);
    }
    if (step.fields) for (const k in step.fields) p.fields.set(k, step.fields[k]!);
    if (step.lines?.length && step.ref.id !== undefined) {
      const at = new Date();
      for (const l of step.lines) p.lines.push(logLine(l, at));
    }
    return p;
  };

  /** A task's batch under way: the next one waits for it (a resend of one must not land after the next). */
  const inFlight = new Map<string, Promise<void>>();
  /** Fencing tokens of the tasks held here (hold), sent with each batch. */
  const fences = new Map<string, string>();
  const staleListeners = new Set<StaleListener>();
  let batch = 0;

  const send = (key: string): void => {
    const p = pending.get(key);
    if (p === undefined || p.publishing || inFlight.has(key)) return;
    pending.delete(key);
    const flat = [...p.fields].flat();
    const fence = fences.get(key) ?? '';
    const seq = ++batch;
    // Lines are held only for a task with an id (a rejected message has no log).
    const done: Promise<unknown> =
      flat.length === 0 && p.lines.length === 0
        ? Promise.resolve(1)
        : resend(o.redis, () =>
            RECORD_PROGRESS.run(o.redis, 2, o.keys.checkpoint(key), o.keys.resultLogs(p.ref.id ?? ''), flat.length, fence, seq, ...flat, ...p.lines),
          );
    const settled = done.then(
      (reply) => {
        if (Number(reply) === -1) {
          const stale = new StaleHolderError(key, fence);
          p.waiters.forEach((w) => w.reject(stale));
          for (const l of staleListeners) l(p.ref, fence);
          return;
        }
        p.waiters.forEach((w) => w.resolve());
      },
      (error: unknown) => {
        p.waiters.forEach((w) => w.reject(error));
        // Nobody saving it will hear of it: a held step (a flush waits, but only for it to be over).
        if (p.waiters.every((w) => w.onlyFlush)) o.onError(error, p.ref);
      },
    );
    inFlight.set(key, settled);
    void settled.then(() => {
      inFlight.delete(key);
      // What came meanwhile goes now if something waits for it; otherwise at its time (sendDue).
      const next = pending.get(key);
      if (next === undefined) return;
      if (next.waiters.length > 0 || performance.now() - next.since >= o.flushMs) send(key);
      else timer ??= setTimeout(sendDue, o.flushMs);
    });
  };

  const sendUrgent = (): void => {
    immediate = undefined;
    for (const k of urgent) send(k);
    urgent.clear();
  };

  const sendAll = (): void => {
    for (const k of [...pending.keys()]) send(k);
  };

  // Entries are in the order their first item came (one is deleted when sent, made anew by the
  // next write): send those held `flushMs`, then wait for the oldest of the rest.
  const sendDue = (): void => {
    timer = undefined;
    const due = performance.now() - o.flushMs + 1;
    for (const [k, p] of pending) {
      if (p.since > due) {
        timer = setTimeout(sendDue, p.since - due + 1);
        return;
      }
      send(k);
    }
  };

  return {
    /** The task is held here under this fencing token: every batch of it carries the token from now on. */
    hold(task: TaskRef, fence: string | undefined): void {
      if (fence === undefined) fences.delete(task.key);
      else fences.set(task.key, fence);
    },
    /** Calls `listener` whenever a batch is refused because its task's holder is stale; returns the unsubscribe. */
    onStale(listener: StaleListener): () => void {
      staleListeners.add(listener);
      return () => staleListeners.delete(listener);
    },
    /** Resolves once the task's batch under way (if any) is settled: a publication goes after it. */
    async idle(task: TaskRef): Promise<void> {
      await inFlight.get(task.key);
    },
    /** Held until the task's next saved step, its publication, or `flushMs`. */
    write(step: ProgressStep): void {
      if (o.requireFence && !fences.has(step.ref.key)) return;
      entry(step);
      timer ??= setTimeout(sendDue, o.flushMs);
    },
    /** Written this turn, with whatever the task had pending; resolves once it is in Redis. */
    save(step: ProgressStep): Promise<void> {
      if (o.requireFence && !fences.has(step.ref.key)) return Promise.reject(new StaleHolderError(step.ref.key, ''));
      const p = entry(step);
      urgent.add(step.ref.key);
      immediate ??= setImmediate(sendUrgent);
      return new Promise<void>((resolve, reject) => p.waiters.push({ resolve, reject }));
    },
    /**
     * The lines held for a task, for its publication to write: from now on
     * they are not sent from here (they would be written twice), also when
     * the publication is retried, until `drop`.
     */
    lines(task: TaskRef): string[] {
      const p = entry({ ref: task });
      p.publishing = true;
      return p.lines;
    },
    /**
     * The task is published: what it still held is gone with its checkpoint (the lines went with
     * the publication). With `stale`, the task was stopped as a stale holder: its pending saves fail.
     */
    drop(task: TaskRef, stale?: StaleHolderError): void {
      fences.delete(task.key);
      const p = pending.get(task.key);
      if (p === undefined) return;
      pending.delete(task.key);
      urgent.delete(task.key);
      // A stale holder's saves were not made: their callers must not count them as saved.
      p.waiters.forEach((w) => (stale ? w.reject(stale) : w.resolve()));
    },
    /** Sends everything pending now (a stop, a handoff). */
    async flush(): Promise<void> {
      const waits = [...pending.values()]
        .filter((p) => !p.publishing)
        .map((p) => new Promise<void>((resolve) => p.waiters.push({ resolve, reject: () => resolve(), onlyFlush: true })));
      clearTimeout(timer);
      timer = undefined;
      if (immediate) clearImmediate(immediate);
      immediate = undefined;
      urgent.clear();
      sendAll();
      await Promise.all(waits);
    },
  };
}

export type ProgressWriter = ReturnType<typeof createProgressWriter>;
