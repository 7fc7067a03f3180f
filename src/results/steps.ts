import type { PlanStep } from '../protocol/plan.ts';
import type { WorkerName, WorkerResult } from '../protocol/output.ts';
import type { Spent } from '../workers/workerRunError.ts';

export type StepStatus = 'waiting' | 'running' | 'succeeded' | 'failed' | 'skipped';

/** Where one plan step stands inside a task actor. */
export interface StepState {
  step: PlanStep;
  status: StepStatus;
  attempts: number;
  result?: WorkerResult;
  error?: string;
  durationMs?: number;
  /** Tokens and dollars of all its attempts. */
  spent?: Spent;
  /** It stopped at a budget guard. */
  stoppedBy?: 'budget';
}

/** What a worker actor reports when it reaches a final state. */
export interface WorkerOutcome {
  worker: WorkerName;
  status: 'succeeded' | 'failed';
  attempts: number;
  durationMs: number;
  result?: WorkerResult;
  error?: string;
  spent?: Spent;
  stoppedBy?: 'budget';
}
