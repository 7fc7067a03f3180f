import { describe, expect, it } from 'vitest';
import { planByKeywords } from '../../src/planning/keywordPlanner.ts';
import { validatePlan } from '../../src/planning/validatePlan.ts';
import { makeTask } from '../support/fixtures.ts';
import { instructionsOf, shape } from './shape.ts';

// The seed's worked examples (ARCHITECTURE.md), held exactly: workers, order, parallelism.
describe('planByKeywords on the worked examples', () => {
  it('"Create user registration endpoint": db (user model) first, then auth (hashing, tokens) and api (POST /api/users/register) in parallel', () => {
    const plan = planByKeywords(makeTask('Create user registration endpoint'));
    expect(plan.source).toBe('keywords');
    expect(shape(plan)).toEqual({
      'db-worker': { dependsOn: [], critical: true },
      'auth-worker': { dependsOn: ['db-worker'], critical: false },
      'api-worker': { dependsOn: ['db-worker'], critical: false },
    });
    expect(instructionsOf(plan, 'db-worker')).toMatch(/user model.*migration/s);
    expect(instructionsOf(plan, 'auth-worker')).toMatch(/hash the password with bcrypt/);
    expect(instructionsOf(plan, 'auth-worker')).toMatch(/issue a signed token/);
    expect(instructionsOf(plan, 'api-worker')).toContain('`POST /api/users/register`');
    expect(plan.steps.find((s) => s.worker === 'db-worker')?.reason).toContain('rule "new account"');
    expect(validatePlan(plan)).toEqual({ ok: true });
  });

  it('"Add role-based access to admin routes": db (role and permission tables), then auth (permission middleware) and api (route protection)', () => {
    const plan = planByKeywords(makeTask('Add role-based access to admin routes'));
    expect(shape(plan)).toEqual({
      'db-worker': { dependsOn: [], critical: true },
      'auth-worker': { dependsOn: ['db-worker'], critical: false },
      'api-worker': { dependsOn: ['db-worker'], critical: false },
    });
    expect(instructionsOf(plan, 'db-worker')).toMatch(/role and permission tables/);
    expect(instructionsOf(plan, 'db-worker')).toContain('seed the roles the task names (admin)');
    expect(instructionsOf(plan, 'auth-worker')).toMatch(/permission middleware: `requireRole\(\.\.\.roles\)`/);
    expect(instructionsOf(plan, 'api-worker')).toMatch(/Protect the admin routes with auth-worker's `requireRole\('admin'\)`/);
    expect(plan.steps.find((s) => s.worker === 'db-worker')?.reason).toContain('rule "roles are data"');
  });

  it('"Create a REST API for blog posts with authentication": db first (post model, relation to user), then auth and api in parallel', () => {
    const plan = planByKeywords(makeTask('Create a REST API for blog posts with authentication'));
    expect(shape(plan)).toEqual({
      'db-worker': { dependsOn: [], critical: true },
      'auth-worker': { dependsOn: ['db-worker'], critical: false },
      'api-worker': { dependsOn: ['db-worker'], critical: false },
    });
    expect(instructionsOf(plan, 'db-worker')).toContain('`Post` model for blog posts');
    expect(instructionsOf(plan, 'db-worker')).toMatch(/Relate each Post to the user who owns it/);
    expect(instructionsOf(plan, 'auth-worker')).toContain('`requireAuth`');
    expect(instructionsOf(plan, 'api-worker')).toContain('`POST /api/posts`');
    expect(instructionsOf(plan, 'api-worker')).toContain("auth-worker's `requireAuth`");
    expect(plan.steps.find((s) => s.worker === 'db-worker')?.reason).toContain('rule "new resource"');
  });

  it('tells parallel steps the same helper names, since neither sees the other\'s output', () => {
    const plan = planByKeywords(makeTask('Create user registration endpoint'));
    for (const name of ['hashPassword', 'issueToken']) {
      expect(instructionsOf(plan, 'auth-worker')).toContain(`\`${name}`);
      expect(instructionsOf(plan, 'api-worker')).toContain(`\`${name}\``);
    }
  });
});
