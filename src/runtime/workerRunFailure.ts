import { shouldRetry } from '../errors.ts';
import { TaskBudgetExceededError } from '../limits/taskBudgetExceededError.ts';
import { AgentTokenBudgetError } from '../workers/errors.ts';
import { WorkerBudgetError } from '../workers/workerBudgetError.ts';
import { WorkerRunError, type Spent } from '../workers/workerRunError.ts';

export interface WorkerRunFailureOptions {
  /** What the attempt's answered model calls used and cost, kept with the failure. */
  spent?: Spent;
  /** Removes the orchestrator's secrets from the message (it reaches the checkpoint, the log and the published result). */
  scrub?(text: string): string;
}

/**
 * The one place a worker attempt's failure becomes what the worker machine
 * reads: a WorkerRunError as is (its decision was made where it was thrown);
 * a budget stop as a WorkerBudgetError of its kind (task dollars, worker
 * tokens), never retried; anything else as a WorkerRunError whose
 * `retryable` is `shouldRetry`'s answer (a lost Redis connection yes, an
 * abort no). The message is scrubbed, the cause kept.
 */
export function toWorkerRunError(error: unknown, o: WorkerRunFailureOptions = {}): WorkerRunError {
  if (error instanceof WorkerRunError) return error;
  const text = error instanceof Error ? error.message : String(error);
  const message = o.scrub ? o.scrub(text) : text;
  const options = { cause: error, ...(o.spent ? { spent: o.spent } : {}) };
  if (error instanceof TaskBudgetExceededError) return new WorkerBudgetError(message, 'task_usd', options);
  if (error instanceof AgentTokenBudgetError) return new WorkerBudgetError(message, 'worker_tokens', options);
  return new WorkerRunError(message, { retryable: shouldRetry(error), ...options });
}
