import type { InspectionEvent } from 'xstate';
import type { WorkerOutcome } from '../results/steps.ts';
import type { Metrics } from '../observability/metrics.ts';

/**
 * Worker and dead-letter metrics read from the actor system's inspection
 * stream, so the runtime needs one hook (the `inspect` option) rather than
 * calls threaded through the worker and publish actors. Only snapshots are
 * read, never machine internals:
 *
 * - a worker machine that reaches `done`: its output (a WorkerOutcome) gives
 *   worker, status, duration of the whole run, and token usage;
 * - a worker machine that enters `retrying` on an error: one retry;
 * - a task machine that reaches `done` in a published state with
 *   `context.deadLetter` set: one dead letter.
 */

interface MachineSnapshotLike {
  status?: string;
  value?: unknown;
  output?: unknown;
  context?: { deadLetter?: unknown };
  machine?: { id?: string };
}

/** Final task states in which this instance did not publish (so wrote no dead letter). */
const UNPUBLISHED = new Set(['unpublished', 'superseded']);

export function observeActorMetrics(metrics: Pick<Metrics, 'workerFinished' | 'workerRetried' | 'tokens' | 'deadLettered'>) {
  return (event: InspectionEvent): void => {
    if (event.type !== '@xstate.snapshot') return;
    const snapshot = event.snapshot as MachineSnapshotLike;
    const machineId = snapshot.machine?.id;
    if (machineId === 'worker') {
      if (snapshot.status === 'done') {
        const outcome = snapshot.output as WorkerOutcome;
        metrics.workerFinished(outcome.worker, outcome.status, outcome.durationMs);
        if (outcome.result) metrics.tokens(outcome.worker, outcome.result.usage);
      } else if (snapshot.value === 'retrying' && event.event.type.startsWith('xstate.error.actor.')) {
        const worker = (snapshot.context as { step?: { worker?: WorkerOutcome['worker'] } } | undefined)?.step?.worker;
        if (worker) metrics.workerRetried(worker);
      }
    } else if (machineId === 'task' && snapshot.status === 'done') {
      if (snapshot.context?.deadLetter !== undefined && !UNPUBLISHED.has(String(snapshot.value))) metrics.deadLettered();
    }
  };
}

/**
 * `createActor` takes one `inspect`; this feeds several (metrics, Stately
 * inspector). An observer that throws is skipped for that event: a bug in
 * what watches the actors must not break the actors.
 */
export function combineInspect(...observers: ((event: InspectionEvent) => void)[]): (event: InspectionEvent) => void {
  return (event) => {
    for (const observe of observers) {
      try {
        observe(event);
      } catch {
        // deliberately ignored, see above
      }
    }
  };
}
