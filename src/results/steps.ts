import type { PlanStep } from '../planning/plan.ts';
import type { WorkerName, WorkerResult } from '../protocol/output.ts';

export type StepStatus = 'waiting' | 'running' | 'succeeded' | 'failed' | 'skipped';

/** Where one plan step stands inside a task actor. */
export interface StepState {
  step: PlanStep;
  status: StepStatus;
  attempts: number;
  result?: WorkerResult;
  error?: string;
  durationMs?: number;
}

/** What a worker actor reports when it reaches a final state. */
export interface WorkerOutcome {
  worker: WorkerName;
  status: 'succeeded' | 'failed';
  attempts: number;
  durationMs: number;
  result?: WorkerResult;
  error?: string;
}
