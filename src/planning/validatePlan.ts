import { WORKER_NAMES } from '../protocol/output.ts';

/** The part of a plan its shape depends on; a `Plan` fits, and so does an unchecked model answer. */
export interface PlanShape {
  steps: readonly { worker: string; dependsOn: readonly string[] }[];
}

export type PlanCheck = { ok: true } | { ok: false; errors: string[] };

const KNOWN: ReadonlySet<string> = new Set(WORKER_NAMES);

/** A cycle among the steps' dependencies, as the list of workers around it (first repeated last), if any. */
function findCycle(steps: PlanShape['steps']): string[] | undefined {
  const deps = new Map(steps.map((step) => [step.worker, step.dependsOn]));
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (worker: string): string[] | undefined => {
    if (state.get(worker) === 'done') return undefined;
    if (state.get(worker) === 'open') return [...path.slice(path.indexOf(worker)), worker];
    state.set(worker, 'open');
    path.push(worker);
    for (const dep of deps.get(worker) ?? []) {
      if (dep === worker || !deps.has(dep)) continue; // reported on their own
      const cycle = visit(dep);
      if (cycle !== undefined) return cycle;
    }
    path.pop();
    state.set(worker, 'done');
    return undefined;
  };
  for (const step of steps) {
    const cycle = visit(step.worker);
    if (cycle !== undefined) return cycle;
  }
  return undefined;
}

/**
 * Checks that a plan is a DAG over the known workers: each worker at most
 * once, dependencies only on steps in the plan, no self-dependency, no cycle.
 * Every problem is reported, not only the first, each with how to fix it.
 * Steps are numbered from 1 in messages. An empty plan is a valid DAG: whether
 * zero steps is acceptable is the caller's decision.
 *
 * @example
 * validatePlan({ steps: [{ worker: 'api-worker', dependsOn: ['db-worker'] }] })
 * // { ok: false, errors: ['step 1 (api-worker): depends on "db-worker", which has no step in the plan; add a db-worker step or drop the dependency'] }
 */
export function validatePlan(plan: PlanShape): PlanCheck {
  const errors: string[] = [];
  const firstStep = new Map<string, number>();
  plan.steps.forEach((step, i) => {
    const n = i + 1;
    if (!KNOWN.has(step.worker)) {
      errors.push(`step ${n}: unknown worker "${step.worker}" (known: ${WORKER_NAMES.join(', ')})`);
    }
    const earlier = firstStep.get(step.worker);
    if (earlier !== undefined) {
      errors.push(`step ${n}: duplicate worker "${step.worker}" (already step ${earlier}); give each worker at most one step`);
    } else {
      firstStep.set(step.worker, n);
    }
  });
  plan.steps.forEach((step, i) => {
    const label = `step ${i + 1} (${step.worker})`;
    const seen = new Set<string>();
    for (const dep of step.dependsOn) {
      if (seen.has(dep)) errors.push(`${label}: lists "${dep}" twice in dependsOn; list each dependency once`);
      seen.add(dep);
      if (dep === step.worker) errors.push(`${label}: depends on itself; remove "${dep}" from its dependsOn`);
      else if (!firstStep.has(dep)) {
        errors.push(`${label}: depends on "${dep}", which has no step in the plan; add a ${dep} step or drop the dependency`);
      }
    }
  });
  const cycle = findCycle(plan.steps);
  if (cycle !== undefined) {
    errors.push(`cycle: ${cycle.join(' → ')}; a step cannot wait for a step that waits for it, remove one of these dependencies`);
  }
  return errors.length === 0 ? { ok: true } : { ok: false, errors };
}
