import { assign, emit, enqueueActions, fromCallback, fromPromise, setup, stopChild } from 'xstate';
import type { TaskOutput } from '../src/protocol/output.ts';
import type { Claim } from '../src/redis/queue.ts';
import { taskMachine, type TaskMachineInput } from './task.machine.ts';

export interface ListenerInput {
  concurrency: number;
  /** Everything a task actor needs besides its claim. */
  taskDefaults: Omit<TaskMachineInput, 'raw' | 'parsed' | 'claimedAt'>;
}

interface ListenerContext extends ListenerInput {
  /** Ids of the task actors in flight. */
  running: string[];
  seq: number;
  stopRequested: boolean;
  lastError: string | undefined;
}

export type ListenerEvent =
  | { type: 'STOP' }
  | { type: `xstate.done.actor.task.${string}`; actorId: string; output: TaskOutput }
  | { type: `xstate.error.actor.task.${string}`; actorId: string; error: unknown };

export type ListenerEmitted =
  | { type: 'taskFinished'; actorId: string; output: TaskOutput }
  | { type: 'taskCrashed'; actorId: string; error: unknown }
  | { type: 'claimFailed'; error: unknown };

const TASK_PREFIX = 'task.';
const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/**
 * The queue listener: connecting → listening ⇄ saturated → draining →
 * stopped. It claims while fewer than `concurrency` tasks are in flight,
 * spawns one task actor per claim, and on STOP stops claiming (a claim under
 * way is finished, never dropped), waits for the tasks in flight and
 * deregisters. Redis errors lead to short back-off states, never to a stop.
 */
export const listenerMachine = setup({
  types: {
    input: {} as ListenerInput,
    context: {} as ListenerContext,
    events: {} as ListenerEvent,
    emitted: {} as ListenerEmitted,
  },
  actors: {
    register: fromPromise<void>(async () => {
      throw new Error('no register actor was provided: build the listener through src/runtime');
    }),
    claim: fromPromise<Claim[], { max: number }>(async () => {
      throw new Error('no claim actor was provided: build the listener through src/runtime');
    }),
    heartbeat: fromCallback(() => undefined),
    markStopping: fromPromise<void>(async () => undefined),
    deregister: fromPromise<void>(async () => undefined),
    task: taskMachine,
  },
  guards: {
    stopRequested: ({ context }) => context.stopRequested,
    // Evaluated before the claim's spawns are applied, so count them in.
    fullAfterClaim: ({ context, event }) =>
      context.running.length + ((event as { output?: Claim[] }).output?.length ?? 0) >= context.concurrency,
    idle: ({ context }) => context.running.length === 0,
  },
  actions: {
    spawnTasks: enqueueActions(({ context, event, enqueue }) => {
      const claims = (event as unknown as { output: Claim[] }).output;
      let seq = context.seq;
      const ids: string[] = [];
      for (const claim of claims) {
        const id = `${TASK_PREFIX}${++seq}`;
        ids.push(id);
        enqueue.spawnChild('task', {
          id,
          input: { ...context.taskDefaults, raw: claim.raw, parsed: claim.parsed, claimedAt: claim.claimedAt },
        });
      }
      enqueue.assign({ seq, running: [...context.running, ...ids] });
    }),
    release: enqueueActions(({ context, event, enqueue }) => {
      const { actorId } = event as unknown as { actorId: string };
      enqueue(stopChild(actorId));
      enqueue.assign({ running: context.running.filter((id) => id !== actorId) });
      if (event.type.startsWith('xstate.done.actor.')) {
        enqueue(emit({ type: 'taskFinished', actorId, output: (event as unknown as { output: TaskOutput }).output }));
      } else {
        enqueue(emit({ type: 'taskCrashed', actorId, error: (event as unknown as { error: unknown }).error }));
      }
    }),
    requestStop: assign({ stopRequested: true }),
    recordError: assign({ lastError: ({ event }) => message((event as { error?: unknown }).error) }),
  },
}).createMachine({
  id: 'listener',
  context: ({ input }) => ({ ...input, running: [], seq: 0, stopRequested: false, lastError: undefined }),
  initial: 'connecting',
  on: {
    'xstate.done.actor.task.*': { actions: 'release' },
    'xstate.error.actor.task.*': { actions: 'release' },
  },
  states: {
    connecting: {
      invoke: {
        src: 'register',
        onDone: 'listening',
        onError: { target: 'reconnecting', actions: 'recordError' },
      },
      on: { STOP: 'stopped' },
    },
    reconnecting: {
      after: { 1000: 'connecting' },
      on: { STOP: 'stopped' },
    },
    listening: {
      entry: enqueueActions(({ check, enqueue, self }) => {
        // The heartbeat lives from the first registration to deregistration.
        if (!self.getSnapshot().children.heartbeat && !check('stopRequested')) {
          enqueue.spawnChild('heartbeat', { id: 'heartbeat' });
        }
      }),
      invoke: {
        src: 'claim',
        input: ({ context }) => ({ max: context.concurrency - context.running.length }),
        onDone: [
          { guard: 'stopRequested', target: 'draining', actions: 'spawnTasks' },
          { guard: 'fullAfterClaim', target: 'saturated', actions: 'spawnTasks' },
          { target: 'listening', reenter: true, actions: 'spawnTasks' },
        ],
        onError: {
          target: 'claimBackoff',
          actions: ['recordError', emit(({ event }) => ({ type: 'claimFailed' as const, error: event.error }))],
        },
      },
      on: { STOP: { actions: 'requestStop' } },
    },
    claimBackoff: {
      after: { 500: [{ guard: 'stopRequested', target: 'draining' }, { target: 'listening' }] },
      on: { STOP: 'draining' },
    },
    saturated: {
      on: {
        'xstate.done.actor.task.*': { target: 'listening', actions: 'release' },
        'xstate.error.actor.task.*': { target: 'listening', actions: 'release' },
        STOP: 'draining',
      },
    },
    draining: {
      entry: 'requestStop',
      invoke: { src: 'markStopping' },
      always: { guard: 'idle', target: 'deregistering' },
    },
    deregistering: {
      entry: stopChild('heartbeat'),
      invoke: { src: 'deregister', onDone: 'stopped', onError: 'stopped' },
    },
    stopped: { type: 'final' },
  },
});

export type ListenerMachine = typeof listenerMachine;
