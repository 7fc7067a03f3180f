import type { TaskMessage } from '../protocol/task.ts';
import { planByKeywords } from './keywordPlanner.ts';
import type { LlmPlanner } from './llmPlanner.ts';
import type { Plan } from '../protocol/plan.ts';
import { validatePlan } from './validatePlan.ts';

export interface PlanTaskOptions {
  /** The LLM planner; without one, the keyword plan is used. */
  llm?: LlmPlanner | undefined;
  /** The calling actor's signal: when it fires, planning stops instead of falling back. */
  signal: AbortSignal;
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

function withNote(plan: Plan, note: string): Plan {
  return { ...plan, notes: [note, ...plan.notes] };
}

/**
 * Decides what a task needs. With an LLM planner, its plan is used unless the
 * call fails or the answer is unusable (not a DAG over the known workers, or
 * zero steps while keywords match); then the keyword plan is used, with a
 * note in `plan.notes` saying why, so a broken or unreachable model degrades
 * planning instead of failing tasks. An aborted signal is rethrown: the actor
 * is stopping and no plan is wanted.
 *
 * @example
 * const plan = await planTask(task, { llm: createLlmPlanner({ model, modelId }), signal });
 */
export async function planTask(task: TaskMessage, options: PlanTaskOptions): Promise<Plan> {
  if (options.llm === undefined) return planByKeywords(task);
  let plan: Plan;
  try {
    plan = await options.llm(task, options.signal);
  } catch (error) {
    if (options.signal.aborted) throw error;
    return withNote(planByKeywords(task), `LLM planner failed (${describe(error)}); using the keyword plan`);
  }
  const check = validatePlan(plan);
  if (!check.ok) {
    return withNote(planByKeywords(task), `LLM plan is not a valid DAG (${check.errors.join('; ')}); using the keyword plan`);
  }
  if (plan.steps.length === 0) {
    const fallback = planByKeywords(task);
    const note =
      fallback.steps.length > 0
        ? `LLM planner returned zero steps although keywords match (${fallback.steps.map((s) => s.worker).join(', ')}); using the keyword plan`
        : 'LLM planner returned zero steps, and no keyword matches either';
    return withNote(fallback, note);
  }
  return plan;
}
