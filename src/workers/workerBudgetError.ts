import { WorkerRunError, type Spent } from './workerRunError.ts';

/**
 * The run stopped at a budget guard: the task's dollars (`metadata.budget_usd`,
 * `--task-budget-usd`) or the worker's tokens (`workerTokenBudget`). Never
 * retried: the worker machine takes its `budgetExceeded` transition.
 */
export class WorkerBudgetError extends WorkerRunError {
  constructor(
    message: string,
    readonly budget: 'task_usd' | 'worker_tokens',
    options: { cause?: unknown; spent?: Spent } = {},
  ) {
    super(message, { ...options, retryable: false });
  }
}
