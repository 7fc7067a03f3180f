import { describe, expect, it } from 'vitest';
import { checksInCheckpoint, checksOf } from '../../src/client/checks.ts';
import type { Overview } from '../../src/client/overview.ts';
import type { TaskWatch } from '../../src/client/taskWatch.ts';
import { taskSummary } from '../../src/cli/demoProject.ts';
import { checkLine, renderOverview, renderTask } from '../../src/cli/render.ts';
import { CHECKS_FIELD, type CheckResult } from '../../src/protocol/checks.ts';

// How the demo, `watch` and `watch <task>` print a task's checks (`--verify`),
// and that the demo's verdict follows the outcome, not only `status`.

const passedAfterFix: CheckResult = { command: 'node --test', passed: true, exit_code: 0, duration_ms: 1234, rounds: 2, output_tail: '# pass 5' };
const stillFailing: CheckResult = { command: 'node --test', passed: false, exit_code: 1, duration_ms: 800, rounds: 3, output_tail: 'not ok 1' };
const timedOut: CheckResult = { command: 'npm test', passed: false, exit_code: null, duration_ms: 120_000, rounds: 1, output_tail: '', error: 'time limit of 120 s reached' };

/** A published result record as the demo reads it. */
const record = (outcome: string, checks: CheckResult[] | undefined, merged = true) => ({
  status: outcome === 'completed_with_warnings' ? 'completed' : outcome,
  outcome,
  output: JSON.stringify({
    outcome,
    workers_used: ['auth-worker', 'api-worker'],
    files_created: ['src/auth/tokens.js'],
    files_modified: ['src/routes/users.js'],
    workspace: '/tmp/w',
    git: { branch: 'backend/t1', base: 'abc', commits: { 'api-worker': 'deadbeefcafe' }, ...(merged ? { merged: '0123456789', diffstat: '2 files' } : {}) },
    ...(checks ? { checks } : {}),
  }),
});

describe('checkLine', () => {
  it('says passed or failed, the exit code or why it could not run, the time and the runs', () => {
    expect(checkLine(passedAfterFix)).toBe('✓ node --test · passed · exit 0 · 1.2s · 2 rounds');
    expect(checkLine(stillFailing)).toBe('✗ node --test · failed · exit 1 · 0.8s · 3 rounds');
    expect(checkLine(timedOut)).toBe('✗ npm test · failed · could not run: time limit of 120 s reached · 120.0s · 1 round');
  });

  it("keeps a task's hostile command on one line, without terminal escapes", () => {
    const line = checkLine({ ...stillFailing, command: 'npm test\n\x1b[2J\x1b]0;owned\x07 && rm -rf /', error: 'not found\r\nfake line' });
    expect(line).not.toMatch(/[\x00-\x1f\x7f]/);
    expect(line).toContain('npm test');
    expect(line).toContain('could not run: not found fake line');
  });
});

describe('checksOf', () => {
  it('reads the checkpoint field and output.checks, leaving out what is not a check and never throwing', () => {
    expect(checksInCheckpoint({ [CHECKS_FIELD]: JSON.stringify([passedAfterFix, { command: 1 }, null]) })).toEqual([passedAfterFix]);
    expect(checksInCheckpoint({ [CHECKS_FIELD]: '{torn' })).toEqual([]);
    expect(checksInCheckpoint({})).toEqual([]);
    expect(checksOf([timedOut])).toEqual([timedOut]);
    expect(checksOf(undefined)).toEqual([]);
  });
});

describe("the demo's summary of a task", () => {
  it('prints each check, and a check that passed after a fix round is a clean run', () => {
    const { lines, failure } = taskSummary('Create user registration endpoint', record('completed_with_warnings', [passedAfterFix, { ...passedAfterFix, command: 'node --check src/app.js', rounds: 1 }]));
    expect(lines).toContain('  checks:  ✓ node --test · passed · exit 0 · 1.2s · 2 rounds');
    expect(lines).toContain('           ✓ node --check src/app.js · passed · exit 0 · 1.2s · 1 round');
    expect(failure).toBeUndefined();
  });

  it('calls a task whose check still fails not clean, though its status reads completed', () => {
    const { lines, failure } = taskSummary('Create user registration endpoint', record('completed_with_warnings', [stillFailing], false));
    expect(lines[1]).toBe('  status:  completed (completed_with_warnings)');
    expect(lines).toContain('  checks:  ✗ node --test · failed · exit 1 · 0.8s · 3 rounds');
    expect(failure).toBe('completed_with_warnings: checks still failing (node --test)');
  });

  it('calls an unmerged branch, a failed task and a missing result not clean; a task without checks prints none', () => {
    expect(taskSummary('t', record('completed_with_warnings', undefined, false)).failure).toBe('completed_with_warnings: its branch backend/t1 was not merged');
    expect(taskSummary('t', { status: 'failed', error: 'boom' }).failure).toBe('failed: boom');
    expect(taskSummary('t', undefined).failure).toBe('no result');
    const plain = taskSummary('t', record('completed', undefined));
    expect(plain.failure).toBeUndefined();
    expect(plain.lines.some((l) => l.includes('checks:'))).toBe(false);
  });
});

describe('watch', () => {
  const watch = (over: Partial<TaskWatch>): TaskWatch => ({ taskId: 't1', where: 'running', description: 'Register', running: undefined, result: undefined, checks: [], log: ['a line'], at: 0, ...over });

  it('shows a line per check of a task that is verifying, and of a finished one', () => {
    const running = renderTask(watch({ checks: [stillFailing] }), 'backend').join('\n');
    expect(running).toContain('CHECKS\n  ✗ node --test · failed · exit 1 · 0.8s · 3 rounds');
    const finished = renderTask(
      watch({ where: 'finished', result: { status: 'completed', outcome: 'completed_with_warnings', error: undefined, completedAt: undefined }, checks: [passedAfterFix, timedOut] }),
      'backend',
    ).join('\n');
    expect(finished).toContain('completed (completed_with_warnings)');
    expect(finished).toContain('CHECKS\n  ✓ node --test · passed · exit 0 · 1.2s · 2 rounds\n  ✗ npm test · failed · could not run: time limit of 120 s reached');
    expect(renderTask(watch({}), 'backend').join('\n')).not.toContain('CHECKS');
  });

  it('shows the checks under a task in flight on the overview', () => {
    const overview: Overview = {
      domain: 'backend',
      pending: 0,
      instances: [],
      failures: [],
      modelApi: { breaker: 'closed', callsInFlight: 0 } as Overview['modelApi'],
      at: 0,
      tasks: [{ taskId: 't1234567', description: 'Register', owner: 'a', state: 'publishing', elapsedMs: 1000, workers: [], spendUsd: 0, checks: [passedAfterFix] }],
    };
    expect(renderOverview(overview, 120).join('\n')).toMatch(/Register\n {11}✓ node --test · passed · exit 0 · 1\.2s · 2 rounds/);
  });
});
