import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { planByKeywords } from '../../src/planning/keywordPlanner.ts';
import { parseTaskMessage, type TaskMessage } from '../../src/protocol/task.ts';
import { makeTask } from '../support/fixtures.ts';
import { instructionsOf, shape } from './shape.ts';

const FIXTURES = new URL('../../../shared/fixtures/wire/', import.meta.url);

function fixture(name: string): TaskMessage {
  const parsed = parseTaskMessage(readFileSync(new URL(name, FIXTURES), 'utf8'));
  if (!parsed.ok) throw new Error(`fixture ${name} does not parse: ${parsed.reason}`);
  return parsed.task;
}

const REGISTRATION_SHAPE = {
  'db-worker': { dependsOn: [], critical: true },
  'auth-worker': { dependsOn: ['db-worker'], critical: false },
  'api-worker': { dependsOn: ['db-worker'], critical: false },
};

describe('planByKeywords on the wire fixtures', () => {
  it('task-from-python-lib.json: the registration plan, with each requirement given to its owner', () => {
    const plan = planByKeywords(fixture('task-from-python-lib.json'));
    expect(shape(plan)).toEqual(REGISTRATION_SHAPE);
    const auth = instructionsOf(plan, 'auth-worker');
    expect(auth).toContain('"Hash password with bcrypt"');
    expect(auth).toContain('"Return JWT token on success"');
    expect(auth).not.toContain('"Validate email format"');
    const api = instructionsOf(plan, 'api-worker');
    expect(api).toContain('`POST /api/users/register`');
    expect(api).toContain('"Validate email format"');
    expect(instructionsOf(plan, 'db-worker')).not.toContain('Requirements that are yours');
  });

  it('task-from-shell-cli.json: the same plan from the description alone, inferring the route', () => {
    const plan = planByKeywords(fixture('task-from-shell-cli.json'));
    expect(shape(plan)).toEqual(REGISTRATION_SHAPE);
    expect(instructionsOf(plan, 'api-worker')).toContain('`POST /api/users/register`');
  });

  it('"Rename the \\"admin\\" role to \\"owner\\"": db (data migration if roles are stored) before auth (code rename)', () => {
    // The description of the malformed shell fixture, which cannot be parsed as sent.
    const plan = planByKeywords(makeTask('Rename the "admin" role to "owner"'));
    expect(shape(plan)).toEqual({
      'db-worker': { dependsOn: [], critical: true },
      // Not critical: nothing depends on it and it is not the only step; its failure makes the task partial.
      'auth-worker': { dependsOn: ['db-worker'], critical: false },
    });
    expect(instructionsOf(plan, 'db-worker')).toContain('renames the role "admin" to "owner" in place');
    expect(instructionsOf(plan, 'db-worker')).toContain('If roles exist only in code, change nothing');
    expect(instructionsOf(plan, 'auth-worker')).toContain('Rename the role "admin" to "owner" everywhere the code names it');
  });
});
