import { OrchestratorError } from '../errors.ts';

/** The next model call would take the task's spend past its budget (`metadata.budget_usd` or `--task-budget-usd`). */
export class TaskBudgetExceededError extends OrchestratorError {
  constructor(
    readonly budgetUsd: number,
    readonly spentUsd: number,
  ) {
    super(
      `budget: the task has spent $${spentUsd.toFixed(4)} of its $${budgetUsd.toFixed(4)} budget and the next model call would pass it: ` +
        'raise metadata.budget_usd (or --task-budget-usd), or give the task a smaller scope',
    );
  }
}
