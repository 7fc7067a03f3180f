import { describe, expect, it } from 'vitest';
import { createActor, toPromise, type InspectionEvent } from 'xstate';
import { combineInspect, observeActorMetrics } from '../../src/runtime/actorMetrics.ts';
import type { Metrics } from '../../src/observability/metrics.ts';
import { WorkerRunError } from '../../src/workers/workerRunError.ts';
import { makeTask, taskInput, workerResult } from '../support/fixtures.ts';
import { stubTaskMachine, type StubTaskOptions } from '../support/taskSystem.ts';

type Recorded = Pick<Metrics, 'workerFinished' | 'workerRetried' | 'tokens' | 'deadLettered'>;

/** A plain object in place of the Prometheus metrics: the calls, in order. */
function recorder() {
  const calls: unknown[][] = [];
  const metrics: Recorded = {
    workerFinished: (...args) => void calls.push(['workerFinished', ...args]),
    workerRetried: (...args) => void calls.push(['workerRetried', ...args]),
    tokens: (...args) => void calls.push(['tokens', ...args]),
    deadLettered: () => void calls.push(['deadLettered']),
  };
  return { metrics, calls };
}

async function run(o: StubTaskOptions, input = taskInput()) {
  const { metrics, calls } = recorder();
  const actor = createActor(stubTaskMachine(o), { input, inspect: observeActorMetrics(metrics) });
  actor.start();
  await toPromise(actor);
  return { calls, final: String(actor.getSnapshot().value) };
}

describe('observeActorMetrics', () => {
  it('reports each worker run once, with its status, duration and tokens, and each retry', async () => {
    const { calls } = await run({
      run: async (input) => {
        if (input.step.worker === 'db-worker' && input.attempt === 1) throw new WorkerRunError('429', { retryable: true });
        if (input.step.worker === 'auth-worker') throw new WorkerRunError('bad request', { retryable: false });
        return workerResult(input.step.worker);
      },
    });
    expect(calls.filter((c) => c[0] === 'workerRetried')).toEqual([['workerRetried', 'db-worker']]);
    const finished = calls.filter((c) => c[0] === 'workerFinished').map((c) => [c[1], c[2]]);
    expect(finished.sort()).toEqual([
      ['api-worker', 'succeeded'],
      ['auth-worker', 'failed'],
      ['db-worker', 'succeeded'],
    ]);
    for (const c of calls.filter((c) => c[0] === 'workerFinished')) expect(c[3]).toEqual(expect.any(Number));
    const tokens = calls.filter((c) => c[0] === 'tokens');
    expect(tokens.map((c) => c[1]).sort()).toEqual(['api-worker', 'db-worker']);
    expect(tokens[0]![2]).toEqual(workerResult('db-worker').usage);
    expect(calls.some((c) => c[0] === 'deadLettered')).toBe(false);
  });

  it('counts a dead letter when a rejected message is published', async () => {
    const { calls, final } = await run({}, taskInput('{"not": "a task"'));
    expect(final).toBe('failed');
    expect(calls).toEqual([['deadLettered']]);
  });

  it('counts no dead letter when another instance publishes instead', async () => {
    const { calls, final } = await run({ published: false }, taskInput('{"not": "a task"'));
    expect(final).toBe('superseded');
    expect(calls).toEqual([]);
  });

  it('counts no dead letter for a task that failed for other reasons', async () => {
    const { calls, final } = await run({ plan: { source: 'keywords', steps: [], notes: [] } }, taskInput(makeTask()));
    expect(final).toBe('failed');
    expect(calls).toEqual([]);
  });
});

describe('combineInspect', () => {
  it('feeds every observer, even after one throws', () => {
    const seen: string[] = [];
    const inspect = combineInspect(
      () => {
        throw new Error('bug in an observer');
      },
      (e) => void seen.push(e.type),
    );
    inspect({ type: '@xstate.event' } as InspectionEvent);
    expect(seen).toEqual(['@xstate.event']);
  });
});
