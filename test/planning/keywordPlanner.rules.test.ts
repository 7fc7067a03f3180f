import { describe, expect, it } from 'vitest';
import { planByKeywords } from '../../src/planning/keywordPlanner.ts';
import { validatePlan } from '../../src/planning/validatePlan.ts';
import { makeTask } from '../support/fixtures.ts';
import { instructionsOf, shape } from './shape.ts';

describe('planByKeywords: order and criticality', () => {
  it('makes the only step critical', () => {
    const plan = planByKeywords(makeTask('Add an index on orders.created_at'));
    expect(shape(plan)).toEqual({ 'db-worker': { dependsOn: [], critical: true } });
  });

  it('runs api and auth in parallel and neither is critical when there is no db step', () => {
    const plan = planByKeywords(makeTask('Add request logging middleware and a logout that clears the session'));
    expect(shape(plan)).toEqual({
      'auth-worker': { dependsOn: [], critical: false },
      'api-worker': { dependsOn: [], critical: false },
    });
  });

  it('puts a matched db step before the others', () => {
    const plan = planByKeywords(makeTask('Add a search query endpoint over the products table'));
    expect(shape(plan)).toEqual({
      'db-worker': { dependsOn: [], critical: true },
      'api-worker': { dependsOn: ['db-worker'], critical: false },
    });
    expect(plan.steps.map((s) => s.worker)).toEqual(['db-worker', 'api-worker']);
  });

  it('produces a valid DAG for every plan', () => {
    for (const description of [
      'Create user registration endpoint',
      'Add role-based access to admin routes',
      'Create a REST API for blog posts with authentication',
      'Add JWT refresh tokens',
    ]) {
      expect(validatePlan(planByKeywords(makeTask(description))), description).toEqual({ ok: true });
    }
  });
});

describe('planByKeywords: implication rules', () => {
  it('"new resource" names the model and the routes after the resource', () => {
    const plan = planByKeywords(makeTask('Build CRUD endpoints for product categories'));
    expect(Object.keys(shape(plan))).toEqual(['db-worker', 'api-worker']);
    expect(instructionsOf(plan, 'db-worker')).toContain('`Category` model for product categories (table `categories`)');
    expect(instructionsOf(plan, 'api-worker')).toContain('`GET /api/categories/:id`');
    // Without auth in the plan, no owner relation is asked for.
    expect(instructionsOf(plan, 'db-worker')).not.toContain('Relate each');
  });

  it('"new resource" does not fire for things an API serves without storing them', () => {
    const plan = planByKeywords(makeTask('Create an endpoint for health checks'));
    expect(Object.keys(shape(plan))).toEqual(['api-worker']);
  });

  it('"new resource" does not fire for an auth feature', () => {
    const plan = planByKeywords(makeTask('Create routes for user login'));
    expect(Object.keys(shape(plan))).toEqual(['auth-worker', 'api-worker']);
    expect(instructionsOf(plan, 'auth-worker')).toContain('Login: look the user up by email');
  });

  it('"roles are data" does not fire when a role is only read', () => {
    const plan = planByKeywords(makeTask("Log the user's role in the audit middleware"));
    expect(Object.keys(shape(plan))).toEqual(['auth-worker', 'api-worker']);
  });

  it('"names the API" gives the API to api-worker even without a routing keyword', () => {
    const plan = planByKeywords(makeTask('Add pagination to the API'));
    expect(Object.keys(shape(plan))).toEqual(['api-worker']);
    expect(plan.steps[0]?.reason).toBe('rule "names the API": the task asks for work on the API');
  });

  it('gives each step a reason naming the matched words', () => {
    const plan = planByKeywords(makeTask('Create user registration endpoint'));
    expect(plan.steps.find((s) => s.worker === 'auth-worker')?.reason).toBe('matched keywords: register ("registration")');
    expect(plan.steps.find((s) => s.worker === 'api-worker')?.reason).toBe('matched keywords: endpoint ("endpoint")');
  });
});
