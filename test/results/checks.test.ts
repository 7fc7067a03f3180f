import { describe, expect, it } from 'vitest';
import { FIX_ROUND_HEADING, type CheckResult } from '../../src/protocol/checks.ts';
import { checkResultOf, checksAllowMerge, checksFor, failingIssues, fixRoundSection, fixTargets, latestRuns, mergeFix, tailOf } from '../../src/results/checks.ts';
import { makeTask, workerResult } from '../support/fixtures.ts';

const failed = (command: string, output_tail: string, over: Partial<CheckResult> = {}): CheckResult => ({
  command, passed: false, exit_code: 1, duration_ms: 5, rounds: 1, output_tail, ...over,
});

describe('the checks’ pure helpers', () => {
  it('keeps the last 60 lines and at most 4 KB of an output, whole characters, saying it cut', () => {
    const lines = Array.from({ length: 100 }, (_, i) => `line ${i}`).join('\n');
    const tail = tailOf(lines);
    expect(tail.startsWith('…\nline 40\n')).toBe(true);
    expect(tail.endsWith('line 99')).toBe(true);
    const wide = 'é'.repeat(5000);
    const cut = tailOf(wide);
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(4096 + 4);
    expect(cut).not.toContain('\uFFFD');
    expect(tailOf('ok\n\n')).toBe('ok');
  });

  it('says why a check never ran to an exit, and scrubs its output', () => {
    const o = { rounds: 1, timeoutMs: 2000, scrub: (s: string) => s.replaceAll('sk-secret', '[redacted]') };
    expect(checkResultOf('npm test', { output: 'key sk-secret\nok', exitCode: 0, timedOut: false, durationMs: 12.4 }, o)).toEqual({
      command: 'npm test', passed: true, exit_code: 0, duration_ms: 12, rounds: 1, output_tail: 'key [redacted]\nok',
    });
    expect(checkResultOf('jest --ci', { output: 'bash: jest: command not found', exitCode: 127, timedOut: false, durationMs: 1 }, o).error).toMatch(/^command not found: jest/);
    const hung = checkResultOf('sleep 9', { output: '', exitCode: null, timedOut: true, durationMs: 2000 }, o);
    expect(hung).toMatchObject({ passed: false, exit_code: null });
    expect(hung.error).toMatch(/time limit of 2 s reached/);
  });

  it('takes the task’s own checks only when allowed, and only a valid list', () => {
    const task = makeTask('x', { context: { verify: ['npm run lint'] } });
    expect(checksFor(task, ['npm test'], false)).toEqual({ commands: ['npm test'] });
    expect(checksFor(task, ['npm test'], true)).toEqual({ commands: ['npm run lint'] });
    const bad = checksFor(makeTask('x', { context: { verify: 'rm -rf /' } }), ['npm test'], true);
    expect(bad.commands).toEqual(['npm test']);
    expect(bad.note).toMatch(/ignored/);
  });

  it('sends a failure to the workers whose files it names, else to every worker that finished; the planner’s choice wins', () => {
    const results = { 'db-worker': workerResult('db-worker', ['src/models/user.js']), 'api-worker': workerResult('api-worker', ['src/routes/users.js']) };
    expect(fixTargets([failed('npm test', 'Error in src/routes/users.js:3')], results)).toEqual(['api-worker']);
    expect(fixTargets([failed('npm test', 'segfault')], results).sort()).toEqual(['api-worker', 'db-worker']);
    expect(fixTargets([failed('npm test', 'src/routes/users.js')], results, 'db-worker')).toEqual(['db-worker']);
  });

  it('writes the fix round’s section: heading, each failing command, its exit code and output in a fence it cannot close, the earlier work', () => {
    const text = fixRoundSection({ round: 1, rounds: 2, checks: [failed('npm test', 'x ``` y'), { ...failed('tsc', ''), passed: true, exit_code: 0 }], previous: workerResult('api-worker') });
    expect(text.startsWith(FIX_ROUND_HEADING)).toBe(true);
    expect(text).toContain('$ npm test\nexit code: 1\n````text\nx ``` y\n````');
    expect(text).not.toContain('$ tsc');
    expect(text).toContain('+ src/api-worker.js');
  });

  it('merges a fix run over the earlier one, counts runs, lists failures as issues, and gates the merge', () => {
    const merged = mergeFix(workerResult('api-worker', ['a.js']), { ...workerResult('api-worker', ['FIXED']), files_modified: ['a.js'] }, 1);
    expect(merged).toMatchObject({ files_created: ['a.js', 'FIXED'], files_modified: [], round: 1, turns: 4 });
    expect(merged.usage.input_tokens).toBe(20);
    expect(latestRuns([failed('npm test', '', { rounds: 2 })], [failed('npm test', 'again')])[0]!.rounds).toBe(3);
    expect(failingIssues([failed('npm test', 'ok 1\nnot ok 2 - register', { rounds: 2 })])).toEqual(['check failed after 2 runs: `npm test` (exit code 1): not ok 2 - register']);
    expect(checksAllowMerge({}, false)).toBe(true);
    expect(checksAllowMerge({ checks: [failed('npm test', '')] }, false)).toBe(false);
    expect(checksAllowMerge({ checks: [failed('npm test', '')] }, true)).toBe(true);
    expect(checksAllowMerge({ checks: [{ ...failed('npm test', ''), passed: true }] }, false)).toBe(true);
  });
});
