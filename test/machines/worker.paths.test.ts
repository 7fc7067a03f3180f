import { describe, expect, it } from 'vitest';
import { transition, type AnyStateNode } from 'xstate';
import { getShortestPaths } from 'xstate/graph';
import { workerMachine, type WorkerMachineInput } from '../../machines/worker.machine.ts';
import type { WorkerOutcome } from '../../machines/steps.ts';
import { ZERO_USAGE } from '../../src/protocol/output.ts';
import { WorkerBudgetError } from '../../src/workers/workerBudgetError.ts';
import { WorkerRunError } from '../../src/workers/workerRunError.ts';
import { dbThenApiAuth, makeTask, step, taskRef, workerResult } from '../support/fixtures.ts';

// Model-based tests of the worker machine: the paths come from the machine,
// the agent's done/error events and the wait notices are fed as plain events.

type Snap = ReturnType<typeof workerMachine.transition>;
type Ev = { type: string; [k: string]: unknown };

const spent = { usage: { ...ZERO_USAGE, input_tokens: 100, output_tokens: 10 }, cost_usd: 0.0005 };
const input: WorkerMachineInput = {
  ref: taskRef('t1'),
  task: makeTask(),
  plan: dbThenApiAuth,
  step: step('db-worker'),
  dependencies: [],
  workspace: '/tmp/w',
  maxAttempts: 2,
  backoffMs: 1,
};

const stateName = (s: Snap): string => (typeof s.value === 'string' ? s.value : Object.entries(s.value).map(([k, v]) => `${k}.${String(v)}`)[0]!);

function eventsFor(snapshot: Snap): Ev[] {
  const state = stateName(snapshot);
  const agentEnds: Ev[] = [
    { type: 'xstate.done.actor.agent', output: { ...workerResult('db-worker'), cost_usd: 0.001 } },
    { type: 'xstate.error.actor.agent', error: new WorkerRunError('overloaded for too long', { retryable: true, spent }) },
    { type: 'xstate.error.actor.agent', error: new WorkerRunError('bad request', { retryable: false }) },
    { type: 'xstate.error.actor.agent', error: new WorkerBudgetError('budget: the task has spent $0.03 of its $0.03', 'task_usd', { spent }) },
  ];
  switch (state) {
    case 'running.working':
      return [{ type: 'MODEL_WAIT', reason: 'breaker_open', unavailableSince: 1000 }, ...agentEnds];
    case 'running.waitingForModel':
      return [{ type: 'MODEL_WAIT', reason: 'model_slot' }, { type: 'MODEL_RESUMED' }, ...agentEnds];
    case 'retrying':
      return [{ type: 'xstate.after.backoff.worker.retrying' }];
    default:
      return [];
  }
}

const serializeState = (s: Snap): string => JSON.stringify([s.value, s.context.attempt, s.context.wait?.reason, s.context.spent.cost_usd]);

describe('worker machine paths', () => {
  const paths = getShortestPaths(workerMachine, { input, events: eventsFor as never, serializeState: serializeState as never });

  it('reaches every state, the wait for a model slot and budgetExceeded included', () => {
    const reached = new Set(paths.flatMap((p) => [p.state, ...p.steps.map((st) => st.state)].map((s) => stateName(s as Snap))));
    expect([...reached].sort()).toEqual(
      ['budgetExceeded', 'failed', 'retrying', 'running.waitingForModel', 'running.working', 'succeeded'].sort(),
    );
  });

  it('takes every transition the machine declares', () => {
    // From every state the paths reach, every event it accepts: the edges, not only the shortest ones.
    const taken = new Set<string>();
    for (const p of paths) {
      for (const st of p.steps) {
        const from = st.state as Snap;
        for (const event of eventsFor(from)) {
          const [next] = transition(workerMachine, from, event as never);
          taken.add(`${stateName(from)} ${event.type} ${stateName(next)}`);
        }
      }
    }
    const all = [...taken].join('\n');
    expect(all).toMatch(/running\.working MODEL_WAIT running\.waitingForModel/);
    expect(all).toMatch(/running\.waitingForModel MODEL_WAIT running\.waitingForModel/);
    expect(all).toMatch(/running\.waitingForModel MODEL_RESUMED running\.working/);
    expect(all).toMatch(/running\.waitingForModel xstate\.done\.actor\.agent succeeded/);
    expect(all).toMatch(/running\.working xstate\.error\.actor\.agent budgetExceeded/);
    expect(all).toMatch(/running\.working xstate\.error\.actor\.agent retrying/);
    expect(all).toMatch(/running\.working xstate\.error\.actor\.agent failed/);
    expect(all).toMatch(/retrying xstate\.after\.backoff\.worker\.retrying running\.working/);
    const declared = (workerMachine.root.states.running as AnyStateNode).transitions.size;
    expect(declared).toBeGreaterThanOrEqual(2);
  });

  it('a wait costs no attempt, and budgetExceeded is final, not retried, with the spend of every attempt', () => {
    const waited = paths.find((p) => stateName(p.state as Snap) === 'running.waitingForModel');
    expect(waited?.state.context.attempt).toBe(1);
    expect(waited?.state.context.wait).toEqual({ reason: 'breaker_open', unavailableSince: 1000 });
    const stopped = paths.filter((p) => stateName(p.state as Snap) === 'budgetExceeded');
    expect(stopped.length).toBeGreaterThan(0);
    for (const p of stopped) {
      const outcome = p.state.output as WorkerOutcome;
      expect(outcome.status).toBe('failed');
      expect(outcome.stoppedBy).toBe('budget');
      expect(outcome.error).toMatch(/^budget:/);
      // One failed retryable attempt before, or none: its spend is counted with the last one's.
      expect(outcome.spent!.cost_usd).toBeCloseTo(0.0005 * p.state.context.attempt, 9);
      expect(outcome.attempts).toBe(p.state.context.attempt);
    }
    const succeeded = paths.filter((p) => stateName(p.state as Snap) === 'succeeded');
    for (const p of succeeded) expect((p.state.output as WorkerOutcome).spent!.cost_usd).toBeGreaterThanOrEqual(0.001);
  });
});
