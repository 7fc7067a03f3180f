import { describe, expect, it } from 'vitest';
import { validatePlan, type PlanShape } from '../../src/planning/validatePlan.ts';

function plan(...steps: [string, string[]][]): PlanShape {
  return { steps: steps.map(([worker, dependsOn]) => ({ worker, dependsOn })) };
}

describe('validatePlan', () => {
  it('accepts a DAG over the known workers, and an empty plan', () => {
    expect(validatePlan(plan(['db-worker', []], ['auth-worker', ['db-worker']], ['api-worker', ['db-worker', 'auth-worker']]))).toEqual({ ok: true });
    expect(validatePlan(plan())).toEqual({ ok: true });
  });

  it('rejects an unknown worker', () => {
    expect(validatePlan(plan(['frontend-worker', []]))).toEqual({
      ok: false,
      errors: ['step 1: unknown worker "frontend-worker" (known: api-worker, db-worker, auth-worker)'],
    });
  });

  it('rejects a worker with two steps', () => {
    expect(validatePlan(plan(['db-worker', []], ['api-worker', []], ['db-worker', []]))).toEqual({
      ok: false,
      errors: ['step 3: duplicate worker "db-worker" (already step 1); give each worker at most one step'],
    });
  });

  it('rejects a dependency on a worker that has no step', () => {
    expect(validatePlan(plan(['api-worker', ['db-worker']]))).toEqual({
      ok: false,
      errors: ['step 1 (api-worker): depends on "db-worker", which has no step in the plan; add a db-worker step or drop the dependency'],
    });
  });

  it('rejects a step that depends on itself, or lists a dependency twice', () => {
    expect(validatePlan(plan(['db-worker', []], ['api-worker', ['api-worker', 'db-worker', 'db-worker']]))).toEqual({
      ok: false,
      errors: [
        'step 2 (api-worker): depends on itself; remove "api-worker" from its dependsOn',
        'step 2 (api-worker): lists "db-worker" twice in dependsOn; list each dependency once',
      ],
    });
  });

  it('rejects a cycle, naming the workers around it', () => {
    expect(validatePlan(plan(['db-worker', ['api-worker']], ['auth-worker', ['db-worker']], ['api-worker', ['auth-worker']]))).toEqual({
      ok: false,
      errors: [
        'cycle: db-worker → api-worker → auth-worker → db-worker; a step cannot wait for a step that waits for it, remove one of these dependencies',
      ],
    });
  });

  it('reports every problem at once', () => {
    const check = validatePlan(plan(['cache-worker', ['queue-worker']], ['cache-worker', []]));
    expect(check.ok).toBe(false);
    expect(check.ok ? [] : check.errors).toHaveLength(4);
  });
});
