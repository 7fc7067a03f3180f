import type { WorkerName } from './output.ts';

/** One worker's part of a task. */
export interface PlanStep {
  worker: WorkerName;
  /** What this worker is asked to do: specific and actionable. */
  instructions: string;
  /** Steps whose outputs this one needs; it starts when they have succeeded. */
  dependsOn: WorkerName[];
  /**
   * A critical step that fails for good fails the task; a non-critical one
   * makes it `partial` and skips its dependents.
   */
  critical: boolean;
  /** Why the step is in the plan (matched keywords, or the rule that implied it). */
  reason: string;
}

/** A DAG of steps, at most one per worker. */
export interface Plan {
  source: 'keywords' | 'llm';
  steps: PlanStep[];
  /** Notes for the log, e.g. why the LLM plan was not used. */
  notes: string[];
}
