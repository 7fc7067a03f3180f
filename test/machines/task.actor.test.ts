import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createActor, fromPromise, toPromise } from 'xstate';
import { taskMachine } from '../../machines/task.machine.ts';
import { workerMachine, type AgentRunInput } from '../../machines/worker.machine.ts';
import type { Plan } from '../../src/protocol/plan.ts';
import type { TaskOutput, WorkerResult } from '../../src/protocol/output.ts';
import type { FinalResult } from '../../src/protocol/claim.ts';
import { WorkerRunError } from '../../src/workers/workerRunError.ts';
import { dbThenApiAuth, makeTask, taskInput, workerResult } from '../support/fixtures.ts';

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(new Error('aborted'));
    });
  });

interface Harness {
  events: string[];
  inputs: AgentRunInput[];
  published: FinalResult[];
  aborted: string[];
}

function build(plan: Plan, run: (input: AgentRunInput, signal: AbortSignal, h: Harness) => Promise<WorkerResult>) {
  const h: Harness = { events: [], inputs: [], published: [], aborted: [] };
  const runAgent = fromPromise<WorkerResult, AgentRunInput>(async ({ input, signal }) => {
    h.inputs.push(input);
    h.events.push(`start ${input.step.worker}`);
    signal.addEventListener('abort', () => h.aborted.push(input.step.worker));
    const result = await run(input, signal, h);
    h.events.push(`end ${input.step.worker}`);
    return result;
  });
  const machine = taskMachine.provide({
    actors: {
      planTask: fromPromise(async () => plan),
      worker: workerMachine.provide({ actors: { runAgent } }),
      publish: fromPromise<{ published: boolean }, FinalResult>(async ({ input }) => {
        h.published.push(input);
        return { published: true };
      }),
    },
  });
  return { machine, h };
}

// The machine's delays (deadline, retry backoff) and the stubs' durations run on a
// fake clock: a deadline test waits no real second, and Date.now() agrees with the timers.
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
});
afterEach(() => {
  vi.useRealTimers();
});

/** Moves the fake clock from timer to timer until `p` settles. */
async function settle<T>(p: Promise<T>): Promise<T> {
  let settled = false;
  void p.then(
    () => (settled = true),
    () => (settled = true),
  );
  while (!settled) await vi.advanceTimersToNextTimerAsync();
  return p;
}

async function runTask(machine: typeof taskMachine, input = taskInput()) {
  const actor = createActor(machine, { input });
  const states: string[] = [];
  actor.subscribe((s) => states.push(String(s.value)));
  actor.start();
  const output: TaskOutput = await settle(toPromise(actor));
  return { output, states, final: String(actor.getSnapshot().value), actor };
}

describe('task actor with stub actors', () => {
  it('runs db first, then api and auth at the same time, passing db output into their input', async () => {
    const { machine, h } = build(dbThenApiAuth, async (input, signal) => {
      await sleep(input.step.worker === 'db-worker' ? 20 : 30, signal);
      return workerResult(input.step.worker);
    });
    const { output, final, states } = await runTask(machine);
    expect(final).toBe('completed');
    expect(states).toEqual(expect.arrayContaining(['analyzing', 'dispatching', 'publishing', 'completed']));
    expect(h.events.slice(0, 3)).toEqual(['start db-worker', 'end db-worker', expect.stringMatching(/^start/)]);
    expect(h.events[3]).toMatch(/^start/); // both dependents started before either ended
    const api = h.inputs.find((i) => i.step.worker === 'api-worker')!;
    expect(api.dependencies).toEqual([
      { worker: 'db-worker', summary: 'db-worker did its part', files_created: ['src/db-worker.js'], files_modified: [] },
    ]);
    expect(output.workers_used.sort()).toEqual(['api-worker', 'auth-worker', 'db-worker']);
    expect(output.files_created).toHaveLength(3);
    expect(h.published).toHaveLength(1);
    expect(h.published[0]!.outcome).toBe('completed');
  });

  it('retries a retryable failure in the worker actor and succeeds on the second attempt', async () => {
    let calls = 0;
    const { machine } = build({ ...dbThenApiAuth, steps: [dbThenApiAuth.steps[0]!] }, async (input) => {
      calls++;
      if (input.attempt === 1) throw new WorkerRunError('429 rate limited', { retryable: true });
      return workerResult(input.step.worker);
    });
    const { output } = await runTask(machine);
    expect(calls).toBe(2);
    expect(output.outcome).toBe('completed');
    expect(output.details['db-worker']?.attempts).toBe(2);
  });

  it('does not retry a failure that is not retryable', async () => {
    let calls = 0;
    const { machine } = build({ ...dbThenApiAuth, steps: [dbThenApiAuth.steps[0]!] }, async () => {
      calls++;
      throw new WorkerRunError('401 invalid api key', { retryable: false });
    });
    const { output, final } = await runTask(machine);
    expect(calls).toBe(1);
    expect(final).toBe('failed');
    expect(output.error).toContain('401 invalid api key');
  });

  it('ends partial when a leaf worker fails, keeping what the others produced', async () => {
    const { machine } = build(dbThenApiAuth, async (input) => {
      if (input.step.worker === 'auth-worker') throw new WorkerRunError('model unavailable', { retryable: true });
      return workerResult(input.step.worker);
    });
    const { output, final } = await runTask(machine);
    expect(final).toBe('partial');
    expect(output.status).toBe('partial');
    expect(output.failed_workers).toEqual(['auth-worker']);
    expect(output.files_created.sort()).toEqual(['src/api-worker.js', 'src/db-worker.js']);
    expect(output.details['auth-worker']?.attempts).toBe(2);
  });

  it('stops running workers at the deadline, aborting their calls, and keeps the finished ones', async () => {
    const { machine, h } = build(dbThenApiAuth, async (input, signal) => {
      await sleep(input.step.worker === 'db-worker' ? 5 : 10_000, signal);
      return workerResult(input.step.worker);
    });
    const { output, final } = await runTask(machine, taskInput(makeTask(undefined, { timeoutSeconds: 0.3 })));
    expect(final).toBe('partial');
    expect(output.error).toMatch(/timed out after 0.3s/);
    expect(h.aborted.sort()).toEqual(['api-worker', 'auth-worker']);
    expect(output.files_created).toEqual(['src/db-worker.js']);
  });

  it('cancels a running task: workers aborted, published as failed with reason cancelled', async () => {
    const { machine, h } = build(dbThenApiAuth, async (_input, signal) => {
      await sleep(10_000, signal);
      return workerResult('db-worker');
    });
    const actor = createActor(machine, { input: taskInput() });
    actor.start();
    await vi.waitFor(() => expect(h.events).toContain('start db-worker'));
    actor.send({ type: 'CANCEL', reason: 'cancelled' });
    const output = await settle(toPromise(actor));
    expect(actor.getSnapshot().value).toBe('failed');
    expect(output.error).toBe('cancelled');
    expect(h.aborted).toEqual(['db-worker']);
  });

  it('publishes a clear failure when no worker matches the task', async () => {
    const { machine, h } = build({ source: 'keywords', steps: [], notes: ['nothing about api, db or auth'] }, async () => {
      throw new Error('not called');
    });
    const { output, final } = await runTask(machine);
    expect(final).toBe('failed');
    expect(output.error).toMatch(/no backend worker matches this task/);
    expect(h.inputs).toHaveLength(0);
  });
  it('at the deadline, with a worker waiting behind the open breaker, says the model API was unavailable and for how long', async () => {
    const { machine } = build(dbThenApiAuth, async (input, signal) => {
      if (input.step.worker === 'db-worker') return workerResult('db-worker');
      // The API has refused for 7 s: this worker's call waits behind the breaker until the deadline.
      input.worker?.send({ type: 'MODEL_WAIT', reason: 'breaker_open', unavailableSince: Date.now() - 7000 });
      await sleep(60_000, signal);
      throw new Error('not reached');
    });
    const { output } = await runTask(machine, taskInput(makeTask(undefined, { timeoutSeconds: 1 })));
    expect(output.reason).toBe('model_api_unavailable');
    expect(output.error).toMatch(/timed out after 1s: model API unavailable for (7|8) s/);
    // What finished before is kept.
    expect(output.details['db-worker']?.status).toBe('succeeded');
    expect(output.files_created).toContain('src/db-worker.js');
  }, 20_000);

  it('a plain deadline, nobody waiting for the model, keeps the plain reason', async () => {
    const { machine } = build(dbThenApiAuth, async (input, signal) => {
      if (input.step.worker === 'db-worker') return workerResult('db-worker');
      await sleep(60_000, signal);
      throw new Error('not reached');
    });
    const { output } = await runTask(machine, taskInput(makeTask(undefined, { timeoutSeconds: 1 })));
    expect(output.reason).toBeUndefined();
    expect(output.error).toMatch(/timed out after 1s/);
    expect(output.error).not.toMatch(/unavailable/);
  }, 20_000);
});
