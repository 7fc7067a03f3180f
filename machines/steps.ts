import type { WorkerName } from '../src/protocol/output.ts';
import type { PlanStep } from '../src/protocol/plan.ts';
import type { StepState, WorkerOutcome } from '../src/results/steps.ts';

// The data shapes live with the results they become (src/results/steps.ts),
// so src/ never imports from machines/.
export type { StepState, StepStatus, WorkerOutcome } from '../src/results/steps.ts';

export const workerActorId = (worker: WorkerName): string => `worker:${worker}`;

export const isSettled = (s: StepState): boolean => s.status === 'succeeded' || s.status === 'failed' || s.status === 'skipped';

/**
 * Moves waiting steps on: those whose dependencies all succeeded are to be
 * started, those with a failed or skipped dependency are skipped (repeated
 * until nothing changes, so a skip cascades down the DAG). Pure.
 */
export function advance(steps: readonly StepState[]): { steps: StepState[]; start: PlanStep[] } {
  const next = steps.map((s) => ({ ...s }));
  const byWorker = new Map(next.map((s) => [s.step.worker, s]));
  const start: PlanStep[] = [];
  let changed = true;
  while (changed) {
    changed = false;
    for (const s of next) {
      if (s.status !== 'waiting') continue;
      const blocker = s.step.dependsOn.find((d) => {
        const dep = byWorker.get(d);
        return dep === undefined || dep.status === 'failed' || dep.status === 'skipped';
      });
      if (blocker !== undefined) {
        s.status = 'skipped';
        s.error = `skipped: depends on ${blocker} which did not succeed`;
        changed = true;
      } else if (s.step.dependsOn.every((d) => byWorker.get(d)?.status === 'succeeded')) {
        s.status = 'running';
        start.push(s.step);
        changed = true;
      }
    }
  }
  return { steps: next, start };
}

/** Records a worker's final report. */
export function recordOutcome(steps: readonly StepState[], outcome: WorkerOutcome): StepState[] {
  return steps.map((s) => {
    if (s.step.worker !== outcome.worker) return s;
    const next: StepState = { ...s, status: outcome.status, attempts: outcome.attempts, durationMs: outcome.durationMs };
    if (outcome.result) next.result = outcome.result;
    if (outcome.error) next.error = outcome.error;
    if (outcome.spent) next.spent = outcome.spent;
    if (outcome.stoppedBy) next.stoppedBy = outcome.stoppedBy;
    return next;
  });
}

/** Stops the books on a task cut short (deadline, cancel): running steps fail, waiting ones are skipped. */
export function abandon(steps: readonly StepState[], reason: string): StepState[] {
  return steps.map((s) => {
    if (s.status === 'running') return { ...s, status: 'failed', error: reason };
    if (s.status === 'waiting') return { ...s, status: 'skipped', error: `skipped: ${reason}` };
    return s;
  });
}
