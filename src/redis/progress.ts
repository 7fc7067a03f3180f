import type { Redis } from 'ioredis';
import { logLine, type Keys } from '../protocol/keys.ts';
import { luaScript } from './script.ts';

// A task's step in one command: checkpoint fields (ARGV[2 .. n+1], written
// only while the checkpoint exists: a step that comes after the publication,
// which deletes it, must not leave a stray hash), then the progress lines
// (the rest of ARGV) on the task's log.
const RECORD_PROGRESS = luaScript(`
local n = tonumber(ARGV[1])
if n > 0 and redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], unpack(ARGV, 2, n + 1)) end
if #ARGV > n + 1 then redis.call('RPUSH', KEYS[2], unpack(ARGV, n + 2)) end
return 1`);

/** What a task's progress writer holds until it goes out: checkpoint fields (the latest value of each wins) and log lines. */
interface Pending {
  taskId: string | undefined;
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
  onError(error: unknown, taskId: string | undefined): void;
}

export interface ProgressStep {
  claimKey: string;
  taskId: string | undefined;
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
    let p = pending.get(step.claimKey);
    if (p === undefined) {
      p = { taskId: step.taskId, since: performance.now(), fields: new Map(), lines: [], waiters: [] };
      pending.set(step.claimKey, p);
    }
    if (step.fields) for (const k in step.fields) p.fields.set(k, step.fields[k]!);
    if (step.lines?.length && step.taskId !== undefined) {
      const at = new Date();
      for (const l of step.lines) p.lines.push(logLine(l, at));
    }
    return p;
  };

  const send = (claimKey: string): void => {
    const p = pending.get(claimKey);
    if (p === undefined || p.publishing) return;
    pending.delete(claimKey);
    const flat = [...p.fields].flat();
    // Lines are held only for a task with an id (a rejected message has no log).
    const done =
      flat.length === 0 && p.lines.length === 0
        ? Promise.resolve(undefined)
        : RECORD_PROGRESS.run(o.redis, 2, o.keys.checkpoint(claimKey), o.keys.resultLogs(p.taskId ?? ''), flat.length, ...flat, ...p.lines);
    done.then(
      () => p.waiters.forEach((w) => w.resolve()),
      (error: unknown) => {
        p.waiters.forEach((w) => w.reject(error));
        // Nobody saving it will hear of it: a held step (a flush waits, but only for it to be over).
        if (p.waiters.every((w) => w.onlyFlush)) o.onError(error, p.taskId);
      },
    );
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
    /** Held until the task's next saved step, its publication, or `flushMs`. */
    write(step: ProgressStep): void {
      entry(step);
      timer ??= setTimeout(sendDue, o.flushMs);
    },
    /** Written this turn, with whatever the task had pending; resolves once it is in Redis. */
    save(step: ProgressStep): Promise<void> {
      const p = entry(step);
      urgent.add(step.claimKey);
      immediate ??= setImmediate(sendUrgent);
      return new Promise<void>((resolve, reject) => p.waiters.push({ resolve, reject }));
    },
    /**
     * The lines held for a task, for its publication to write: from now on
     * they are not sent from here (they would be written twice), also when
     * the publication is retried, until `drop`.
     */
    lines(claimKey: string, taskId: string | undefined): string[] {
      const p = entry({ claimKey, taskId });
      p.publishing = true;
      return p.lines;
    },
    /** The task is published: what it still held is gone with its checkpoint (the lines went with the publication). */
    drop(claimKey: string): void {
      const p = pending.get(claimKey);
      if (p === undefined) return;
      pending.delete(claimKey);
      urgent.delete(claimKey);
      p.waiters.forEach((w) => w.resolve());
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
