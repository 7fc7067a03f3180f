import { describe, expect, it } from 'vitest';
import type { AnyStateNode } from 'xstate';
import { getShortestPaths } from 'xstate/graph';
import { taskMachine, type TaskContext } from '../../machines/task.machine.ts';
import { workerActorId, type WorkerOutcome } from '../../machines/steps.ts';
import type { Plan } from '../../src/protocol/plan.ts';
import type { CheckResult } from '../../src/protocol/checks.ts';
import { dbThenApiAuth, makeTask, step, taskInput, workerResult } from '../support/fixtures.ts';

// Model-based tests: the paths come from the machine itself. Child actors'
// done/error events are fed as plain events, so no I/O runs.

type Snap = ReturnType<typeof taskMachine.transition>;
type Ev = { type: string; [k: string]: unknown };

const single: Plan = { source: 'keywords', steps: [step('api-worker', [], true)], notes: [] };
const empty: Plan = { source: 'keywords', steps: [], notes: ['no keyword'] };

const done = (outcome: WorkerOutcome): Ev => ({
  type: `xstate.done.actor.${workerActorId(outcome.worker)}`,
  actorId: workerActorId(outcome.worker),
  output: outcome,
});

function eventsFor(snapshot: Snap): Ev[] {
  const ctx = snapshot.context as TaskContext;
  const state = snapshot.value as string;
  switch (state) {
    case 'analyzing':
      return [
        { type: 'xstate.done.actor.planner', output: dbThenApiAuth },
        { type: 'xstate.done.actor.planner', output: single },
        { type: 'xstate.done.actor.planner', output: empty },
        { type: 'xstate.error.actor.planner', error: new Error('planner down') },
        { type: 'xstate.after.untilDeadline.task.analyzing' },
        { type: 'CANCEL' },
      ];
    case 'dispatching':
      return [
        ...ctx.steps
          .filter((s) => s.status === 'running')
          .flatMap((s) => [
            done({ worker: s.step.worker, status: 'succeeded', attempts: 1, durationMs: 1, result: workerResult(s.step.worker) }),
            done({ worker: s.step.worker, status: 'failed', attempts: 2, durationMs: 1, error: 'boom' }),
          ]),
        { type: 'xstate.after.untilDeadline.task.dispatching' },
        { type: 'CANCEL', reason: 'cancelled' },
      ];
    case 'verifying':
      return [
        { type: 'xstate.done.actor.checks', output: ctx.checks.map((command) => check(command, true)) },
        { type: 'xstate.done.actor.checks', output: ctx.checks.map((command) => check(command, false)) },
        { type: 'xstate.error.actor.checks', error: new Error('the task box stopped') },
        { type: 'xstate.after.untilDeadline.task.verifying' },
        { type: 'CANCEL', reason: 'cancelled' },
      ];
    case 'fixing':
      return [
        ...ctx.fixing.flatMap((worker) => [
          done({ worker, status: 'succeeded', attempts: 1, durationMs: 1, result: { ...workerResult(worker), round: ctx.round } }),
          done({ worker, status: 'failed', attempts: 1, durationMs: 1, error: 'fix failed' }),
          done({ worker, status: 'failed', attempts: 1, durationMs: 1, error: 'budget', stoppedBy: 'budget' }),
        ]),
        { type: 'xstate.after.untilDeadline.task.fixing' },
        { type: 'CANCEL', reason: 'cancelled' },
      ];
    case 'publishing':
      return [
        { type: 'xstate.done.actor.publisher', output: { published: true } },
        { type: 'xstate.done.actor.publisher', output: { published: false } },
        { type: 'xstate.error.actor.publisher', error: new Error('redis down') },
      ];
    case 'publishRetry':
      return [{ type: 'xstate.after.publishBackoff.task.publishRetry' }];
    default:
      return [];
  }
}

const check = (command: string, passed: boolean): CheckResult => ({
  command,
  passed,
  exit_code: passed ? 0 : 1,
  duration_ms: 1,
  rounds: 1,
  output_tail: passed ? 'ok' : 'not ok 1 - src/api-worker.js',
});

const serializeState = (s: Snap): string => {
  const c = s.context as TaskContext;
  return JSON.stringify([
    s.value, c.steps.map((x) => [x.status, x.stoppedBy]), c.output?.outcome, c.publishAttempts, c.failure, c.cutShort,
    c.round, c.fixing, c.checkResults?.map((x) => x.passed),
  ]);
};

/** A final state in which this actor published (not given up, not superseded by another holder). */
const publishedHere = (p: { state: Snap }): boolean =>
  p.state.status === 'done' && p.state.value !== 'unpublished' && p.state.value !== 'superseded';

function paths(input = taskInput()) {
  return getShortestPaths(taskMachine, { input, events: eventsFor as never, serializeState: serializeState as never });
}

describe('task machine paths', () => {
  const valid = paths();
  const invalid = paths(taskInput('{"task_id": "abc", "payload": {"description": "say "hi""}}'));
  // Not JSON and no "task_id" in its text: no id can be recovered.
  const anonymous = paths(taskInput('{"no": "task id here"'));
  // Tasks taken over after a crash: with a saved plan and one finished worker, too often, or cancelled meanwhile.
  const resume = { plan: dbThenApiAuth, results: { 'db-worker': workerResult('db-worker') }, takeovers: 1, cancel: undefined };
  const resumed = paths(taskInput(undefined, { resume }));
  const crashedTooOften = paths(taskInput(undefined, { resume: { ...resume, takeovers: 4 } }));
  const cancelledMeanwhile = paths(taskInput(undefined, { resume: { ...resume, cancel: 'cancelled' } }));
  // With checks declared (one fix round): verified, fixed, still failing; and a task resumed in the middle of a fix round.
  const checks = { verify: ['npm test'], fixRounds: 1 };
  const verified = paths(taskInput(makeTask(), checks));
  const fixResume = {
    plan: single,
    results: { 'api-worker': workerResult('api-worker') },
    takeovers: 1,
    cancel: undefined,
    checks: [check('npm test', false)],
    fix: { round: 1, workers: ['api-worker' as const] },
  };
  const resumedInFix = paths(taskInput(undefined, { ...checks, resume: fixResume }));
  const all = [...valid, ...invalid, ...anonymous, ...resumed, ...crashedTooOften, ...cancelledMeanwhile, ...verified, ...resumedInFix];

  it('reaches every state of the machine', () => {
    const reached = new Set(all.flatMap((p) => [p.state, ...p.steps.map((st) => st.state)].map((s) => String(s.value))));
    // received and aggregating only pass through (unguarded or exhaustive `always`), inside one macrostep.
    const transient = ['received', 'aggregating'];
    const declared = Object.keys(taskMachine.root.states).filter((s) => !transient.includes(s));
    expect([...reached].sort()).toEqual(declared.sort());
    expect(reached.has('failed') && reached.has('partial') && reached.has('completed')).toBe(true);
  });

  it('takes every transition the machine declares, each guarded branch included', () => {
    const taken: Array<{ from: string; event: string; to: string }> = [];
    for (const p of all) {
      let prev: string | undefined;
      for (const st of p.steps) {
        const to = String(st.state.value);
        if (prev !== undefined) taken.push({ from: prev, event: st.event.type, to });
        // A task resumed in a fix round passes received → dispatching → fixing in its first macrostep
        // (received has no way to fixing but through dispatching's `always`).
        else if (to === 'fixing') taken.push({ from: 'dispatching', event: st.event.type, to });
        prev = to;
      }
    }
    const matches = (descriptor: string, type: string) =>
      descriptor === type || (descriptor.endsWith('.*') && type.startsWith(descriptor.slice(0, -1)));
    // received and aggregating are left within the same macrostep, so a
    // transition into aggregating is seen landing in publishing.
    const seenAs = (target: string) => (target === 'aggregating' ? 'publishing' : target);
    let declared = 0;
    for (const node of Object.values(taskMachine.root.states) as AnyStateNode[]) {
      if (node.key === 'received' || node.key === 'aggregating') continue;
      for (const [descriptor, transitions] of node.transitions) {
        for (const t of transitions) {
          const target = t.target?.[0]?.key ?? node.key;
          declared++;
          const hit = taken.some((x) => x.from === node.key && matches(descriptor, x.event) && x.to === seenAs(target));
          expect(hit, `${node.key} --${descriptor}--> ${target} never taken`).toBe(true);
        }
      }
      for (const t of node.always ?? []) {
        const target = t.target?.[0]?.key ?? node.key;
        declared++;
        expect(taken.some((x) => x.from === node.key && x.to === seenAs(target)), `${node.key} --always--> ${target}`).toBe(true);
      }
    }
    expect(declared).toBeGreaterThan(12);
  });

  it('ends every path that reaches a final state with one output whose status matches the state', () => {
    const finals = all.filter((p) => p.state.status === 'done');
    expect(finals.length).toBeGreaterThan(5);
    for (const p of finals) {
      const ctx = p.state.context as TaskContext;
      const state = String(p.state.value);
      if (!publishedHere(p)) continue;
      expect(ctx.output, `path to ${state}`).toBeDefined();
      const outcome = ctx.output!.outcome;
      const expected = outcome === 'completed_with_warnings' ? 'completed' : outcome;
      expect(state).toBe(expected);
      expect(p.steps.some((st) => st.state.value === 'publishing')).toBe(true);
    }
  });

  it('fails a task whose critical step failed, and makes it partial when a leaf failed', () => {
    const byOutcome = (pred: (c: TaskContext) => boolean) => valid.filter((p) => p.state.status === 'done' && pred(p.state.context as TaskContext));
    const criticalFailed = byOutcome((c) => c.steps.some((s) => s.step.critical && s.status === 'failed'));
    expect(criticalFailed.length).toBeGreaterThan(0);
    for (const p of criticalFailed.filter(publishedHere)) expect(String(p.state.value)).toBe('failed');
    const leafFailed = byOutcome(
      (c) => c.steps.length === 3 && c.steps.filter((s) => s.status === 'failed').length === 1 && c.steps[0]!.status === 'succeeded' && !c.failure && !c.cutShort,
    );
    expect(leafFailed.length).toBeGreaterThan(0);
    for (const p of leafFailed.filter(publishedHere)) expect(String(p.state.value)).toBe('partial');
  });

  it('skips the dependents of a failed step and names them', () => {
    const p = valid.find((x) => {
      const c = x.state.context as TaskContext;
      return x.state.value === 'failed' && c.steps[0]?.status === 'failed' && c.steps.length === 3;
    });
    expect(p).toBeDefined();
    const out = (p!.state.context as TaskContext).output!;
    expect(out.skipped_workers?.sort()).toEqual(['api-worker', 'auth-worker']);
    expect(out.failed_workers).toEqual(['db-worker']);
  });

  it('resumes a taken-over task in dispatching, without planning again or rerunning finished workers', () => {
    for (const p of resumed) expect(p.steps.map((s) => s.state.value)).not.toContain('analyzing');
    const done = resumed.find((p) => p.state.value === 'completed')!;
    const ctx = done.state.context as TaskContext;
    expect(ctx.steps.map((s) => s.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    const workerEvents = done.steps.map((s) => s.event.type).filter((t) => t.startsWith('xstate.done.actor.worker'));
    expect(workerEvents).not.toContain('xstate.done.actor.worker:db-worker');
  });

  it('fails and dead-letters a task that crashed its holders too often, and honours a cancel that came meanwhile', () => {
    expect(crashedTooOften.filter(publishedHere).length).toBeGreaterThan(0);
    expect(cancelledMeanwhile.filter(publishedHere).length).toBeGreaterThan(0);
    for (const p of crashedTooOften.filter(publishedHere)) {
      const ctx = p.state.context as TaskContext;
      expect(p.state.value).toBe('failed');
      expect(ctx.deadLetter).toMatch(/crashed its holder 4 times \(limit 3\)/);
    }
    for (const p of cancelledMeanwhile.filter(publishedHere)) {
      expect((p.state.context as TaskContext).output?.error).toBe('cancelled');
    }
  });

  it('sends a rejected message straight to aggregating and publishes it as failed', () => {
    const finals = invalid.filter((p) => p.state.status === 'done');
    expect(finals.length).toBeGreaterThan(0);
    for (const p of finals) {
      const c = p.state.context as TaskContext;
      expect(c.ref).toEqual({ key: 'abc', id: 'abc' });
      expect(c.rejection).toMatch(/not valid JSON/);
      expect(c.output?.outcome).toBe('failed');
      expect(p.steps.map((s) => s.state.value)).not.toContain('analyzing');
    }
  });

  it('verifies only with checks declared, and publishes what they found', () => {
    for (const p of valid) expect(p.steps.map((s) => s.state.value)).not.toContain('verifying');
    const finals = verified.filter(publishedHere);
    const passed = finals.filter((p) => (p.state.context as TaskContext).output?.checks?.every((c) => c.passed));
    expect(passed.length).toBeGreaterThan(0);
    for (const p of passed) expect(['completed', 'partial']).toContain(String(p.state.value));
    const stillFailing = finals.filter((p) => {
      const c = p.state.context as TaskContext;
      return c.round === 1 && !c.failure && !c.cutShort && c.steps.every((s) => s.status === 'succeeded' && !s.stoppedBy) && c.output?.checks?.some((x) => !x.passed);
    });
    expect(stillFailing.length).toBeGreaterThan(0);
    for (const p of stillFailing) {
      const out = (p.state.context as TaskContext).output!;
      expect(out.outcome).toBe('completed_with_warnings');
      expect(out.issues.join('\n')).toMatch(/check failed after 1 runs|check failed.*npm test/);
    }
  });

  it('sends a failure back to the worker whose file it names, once per round, and not past the last round', () => {
    for (const p of verified) {
      const rounds = p.steps.filter((s) => s.state.value === 'fixing').length;
      expect(rounds).toBeLessThanOrEqual(2); // entered once; a second step in fixing is its workers finishing
      const c = p.state.context as TaskContext;
      expect(c.round).toBeLessThanOrEqual(1);
    }
    const fixed = verified.find((p) => p.steps.some((s) => s.state.value === 'fixing'))!;
    const entered = fixed.steps.find((s) => s.state.value === 'fixing')!.state.context as TaskContext;
    // The failing output names src/api-worker.js: only its worker is sent back, when it is among those that finished.
    if (entered.steps.some((s) => s.step.worker === 'api-worker' && s.status === 'succeeded')) expect(entered.fixing).toEqual(['api-worker']);
  });

  it('resumes a fix round a crash interrupted with only its unfinished workers, and verifies again', () => {
    for (const p of resumedInFix) expect(p.steps.map((s) => s.state.value)).not.toContain('analyzing');
    const first = resumedInFix.find((p) => p.steps.length > 0)!;
    expect(String(first.steps[0]!.state.value)).toBe('fixing');
    const afterFix = resumedInFix.filter((p) => p.steps.some((s) => s.state.value === 'verifying'));
    expect(afterFix.length).toBeGreaterThan(0);
  });

  it('names a task by its id, and a message no id can be recovered from by its raw- key alone', () => {
    for (const p of valid.filter(publishedHere)) {
      const c = p.state.context as TaskContext;
      expect(c.ref).toEqual({ key: c.task!.task_id, id: c.task!.task_id });
      expect(c.output?.task_id).toBe(c.task!.task_id);
    }
    const finals = anonymous.filter(publishedHere);
    expect(finals.length).toBeGreaterThan(0);
    for (const p of finals) {
      const c = p.state.context as TaskContext;
      expect(c.ref.key).toMatch(/^raw-[0-9a-f]{40}$/);
      expect(c.ref.id).toBeUndefined();
      expect(c.deadLetter).toMatch(/not valid JSON/);
      expect(c.output?.outcome).toBe('failed');
      expect(c.output?.task_id).toBe('unknown');
      expect(p.steps.map((s) => s.state.value)).not.toContain('analyzing');
    }
  });
});
