import type { Plan } from '../../src/protocol/plan.ts';

/** The structure of a plan without its wording: worker → [dependsOn, critical], in step order. */
export function shape(plan: Plan): Record<string, { dependsOn: string[]; critical: boolean }> {
  return Object.fromEntries(plan.steps.map((s) => [s.worker, { dependsOn: s.dependsOn, critical: s.critical }]));
}

/** The instructions of one worker's step; fails the test when the step is missing. */
export function instructionsOf(plan: Plan, worker: string): string {
  const step = plan.steps.find((s) => s.worker === worker);
  if (step === undefined) throw new Error(`no ${worker} step in the plan (steps: ${plan.steps.map((s) => s.worker).join(', ')})`);
  return step.instructions;
}
