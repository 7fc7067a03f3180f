import { describe, expect, it } from 'vitest';
import type { AnyStateNode } from 'xstate';
import { getShortestPaths } from 'xstate/graph';
import { taskMachine, type TaskContext } from '../../machines/task.machine.ts';
import { workerActorId, type WorkerOutcome } from '../../machines/steps.ts';
import type { Plan } from '../../src/protocol/plan.ts';
import { dbThenApiAuth, step, taskInput, workerResult } from '../support/fixtures.ts';

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

const serializeState = (s: Snap): string => {
  const c = s.context as TaskContext;
  return JSON.stringify([s.value, c.steps.map((x) => x.status), c.output?.outcome, c.publishAttempts, c.failure, c.cutShort]);
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
  const all = [...valid, ...invalid, ...anonymous, ...resumed, ...crashedTooOften, ...cancelledMeanwhile];

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
