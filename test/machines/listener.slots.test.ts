import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, setup } from 'xstate';
import { listenerMachine } from '../../machines/listener.machine.ts';
import type { Claim } from '../../src/protocol/claim.ts';
import type { TaskOutput } from '../../src/protocol/output.ts';

const claim = (n: number): Claim => ({
  raw: Buffer.from(`raw ${n}`),
  parsed: { ok: false, taskId: `t${n}`, reason: 'test' },
  ref: { key: `t${n}`, id: `t${n}` },
  claimedAt: Date.now(),
});

describe('listener task actor ids', () => {
  it('reuses free slots, so the ids (and the done events they name) stay bounded by the concurrency', async () => {
    let next = 0;
    const total = 40;
    // A task that finishes on its own a moment after it starts.
    const task = setup({ types: { output: {} as TaskOutput }, delays: { soon: () => Math.floor(Math.random() * 3) } }).createMachine({
      initial: 'working',
      states: { working: { after: { soon: 'done' } }, done: { type: 'final' } },
      output: () => ({}) as TaskOutput,
    });
    const machine = listenerMachine.provide({
      actors: {
        register: fromPromise<void>(async () => undefined),
        claim: fromPromise<Claim[], { max: number; local: string[] }>(async ({ input }) => {
          await new Promise((resolve) => setTimeout(resolve, 1));
          const batch: Claim[] = [];
          while (batch.length < Math.min(input.max, 2) && next < total) batch.push(claim(++next));
          return batch;
        }),
        task: task as never,
      },
    });
    const actor = createActor(machine, {
      input: { concurrency: 3, shutdownGraceMs: 1000, taskDefaults: { maxTakeovers: 3, workspaceRoot: '/nowhere', workerAttempts: 1, workerBackoffMs: 0 } },
    });
    const started: string[] = [];
    let finished = 0;
    actor.on('taskStarted', (e) => started.push(e.actorId));
    const allDone = new Promise<void>((resolve) => actor.on('taskFinished', () => ++finished === total && resolve()));
    actor.start();
    await allDone;
    actor.send({ type: 'STOP' });
    expect(started).toHaveLength(total);
    // Bounded, not exactly three: with tasks this short the third slot may never be needed at once.
    expect([...new Set(started)].filter((id) => !['task.1', 'task.2', 'task.3'].includes(id))).toEqual([]);
  });
});
