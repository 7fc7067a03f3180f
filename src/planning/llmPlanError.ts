import { OrchestratorError } from '../errors.ts';

/**
 * The planning model answered, but not with a usable plan (no submit_plan
 * call, invalid JSON, a shape the schema rejects, a graph that is not a DAG).
 * `planTask` catches it and falls back to the keyword plan, naming the reason
 * in `plan.notes`.
 */
export class LlmPlanError extends OrchestratorError {}
