import { addUsage, type WorkerName } from '../src/protocol/output.ts';
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

/**
 * Records a fix round's run of a worker that had succeeded: it stays
 * succeeded (its earlier work is committed); a successful fix brings its
 * result (earlier files and usage included), a failed one only its spend.
 */
export function recordFixOutcome(s: StepState, outcome: WorkerOutcome): StepState {
  const next: StepState = { ...s, attempts: s.attempts + outcome.attempts, durationMs: (s.durationMs ?? 0) + outcome.durationMs };
  if (outcome.result) next.result = outcome.result;
  const before = s.spent ?? (s.result ? { usage: s.result.usage, cost_usd: s.result.cost_usd === undefined ? 0 : s.result.cost_usd } : undefined);
  if (outcome.spent) {
    // A successful fix's result adds the earlier run's usage up (mergeFix), and the worker's spend counts that
    // result: the earlier run's part is taken out again, so the step counts each run once.
    let run = outcome.spent;
    if (outcome.result && s.result) {
      const u = s.result.usage;
      const earlierCost = s.result.cost_usd === undefined ? 0 : s.result.cost_usd;
      run = {
        usage: {
          input_tokens: Math.max(0, run.usage.input_tokens - u.input_tokens),
          output_tokens: Math.max(0, run.usage.output_tokens - u.output_tokens),
          cache_read_input_tokens: Math.max(0, run.usage.cache_read_input_tokens - u.cache_read_input_tokens),
          cache_creation_input_tokens: Math.max(0, run.usage.cache_creation_input_tokens - u.cache_creation_input_tokens),
        },
        cost_usd: run.cost_usd === null || earlierCost === null ? null : Math.max(0, run.cost_usd - earlierCost),
      };
    }
    next.spent = before
      ? { usage: addUsage(before.usage, run.usage), cost_usd: before.cost_usd === null || run.cost_usd === null ? null : before.cost_usd + run.cost_usd }
      : run;
  }
  if (outcome.stoppedBy) next.stoppedBy = outcome.stoppedBy;
  return next;
}

/** Stops the books on a task cut short (deadline, cancel): running steps fail, waiting ones are skipped. */
export function abandon(steps: readonly StepState[], reason: string): StepState[] {
  return steps.map((s) => {
    if (s.status === 'running') return { ...s, status: 'failed', error: reason };
    if (s.status === 'waiting') return { ...s, status: 'skipped', error: `skipped: ${reason}` };
    return s;
  });
}
