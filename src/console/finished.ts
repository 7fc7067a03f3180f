/** A finished task as the overview lists it. */
export interface FinishedView {
  taskId: string;
  status: string;
  outcome: string | undefined;
  error: string | undefined;
  at: number;
}

export interface FinishedSummary {
  windowMinutes: number;
  completed: number;
  failed: number;
  /** Since when the console counts: results published before it started are not seen. */
  since: number;
  recent: FinishedView[];
}

const WINDOW_MS = 15 * 60_000;
const KEEP = 500;

/**
 * Results as they are published (`results:{id}` messages), kept for the
 * last minutes: Redis keeps no list of completed tasks, only the channel
 * message as each one finishes.
 */
export class FinishedLog {
  private readonly items: FinishedView[] = [];
  private readonly since = Date.now();

  add(taskId: string, message: string, now: number): void {
    let status = 'unknown';
    let outcome: string | undefined;
    let error: string | undefined;
    try {
      const m = JSON.parse(message) as { status?: unknown; output?: unknown; error?: unknown };
      if (typeof m.status === 'string') status = m.status;
      if (typeof m.error === 'string') error = m.error;
      const output: unknown = typeof m.output === 'string' ? JSON.parse(m.output) : m.output;
      const o = (output ?? {}) as { outcome?: unknown };
      if (typeof o.outcome === 'string') outcome = o.outcome;
    } catch {
      // A message another writer shaped differently still counts by its status.
    }
    this.items.unshift({ taskId, status, outcome, error, at: now });
    this.items.length = Math.min(this.items.length, KEEP);
  }

  summary(now: number): FinishedSummary {
    const recent = this.items.filter((i) => now - i.at <= WINDOW_MS);
    return {
      windowMinutes: WINDOW_MS / 60_000,
      completed: recent.filter((i) => i.status === 'completed').length,
      failed: recent.filter((i) => i.status === 'failed').length,
      since: this.since,
      recent: recent.slice(0, 20),
    };
  }
}
