import { assign, emit, enqueueActions, fromCallback, fromPromise, sendTo, setup, stopChild } from 'xstate';
import type { Claim } from '../src/protocol/claim.ts';
import type { TaskOutput } from '../src/protocol/output.ts';
import type { TaskRef } from '../src/protocol/taskRef.ts';
import { taskMachine, type TaskMachineInput } from './task.machine.ts';

export interface ListenerInput {
  concurrency: number;
  /** How long a stop waits for tasks in flight before handing them off. */
  shutdownGraceMs: number;
  /** Everything a task actor needs besides its claim. */
  taskDefaults: Omit<TaskMachineInput, keyof Claim>;
}

interface ListenerContext extends ListenerInput {
  /** Task actors in flight, by actor id: who each one is. */
  tasks: Record<string, TaskRef>;
  stopRequested: boolean;
  lastError: string | undefined;
}

export type ListenerEvent =
  | { type: 'STOP' }
  /** A cancel names a task as peers do, by its protocol id. */
  | { type: 'CANCEL_TASK'; taskId: string; reason: string }
  | { type: `xstate.done.actor.task.${string}`; actorId: string; output: TaskOutput }
  | { type: `xstate.error.actor.task.${string}`; actorId: string; error: unknown };

export type ListenerEmitted =
  | { type: 'taskStarted'; actorId: string; task: TaskRef; resumed: boolean }
  | { type: 'taskFinished'; actorId: string; task: TaskRef | undefined; output: TaskOutput }
  | { type: 'taskCrashed'; actorId: string; task: TaskRef | undefined; error: unknown }
  | { type: 'claimFailed'; error: unknown }
  | { type: 'handedOff'; tasks: TaskRef[] };

// Task actor ids are slots (`task.1` ... `task.{concurrency}`, plus any
// taken over beyond it), reused once free, never a running count: XState
// memoises transition candidates per event type on each state node, so
// unique ids (`xstate.done.actor.task.{n}` for every n ever started) would
// grow that memo by one entry per task, forever.
const TASK_PREFIX = 'task.';
const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/**
 * The queue listener: connecting → listening ⇄ saturated → draining →
 * stopped. It claims (new tasks, and tasks whose holder died) while fewer
 * than `concurrency` are in flight, and spawns one task actor per claim. On
 * STOP it stops claiming (a claim under way is finished, never dropped), lets
 * tasks in flight finish for `shutdownGraceMs`, hands the rest off (left
 * checkpointed in Redis for another instance) and deregisters. Redis errors
 * lead to short back-off states, never to a stop.
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
    claim: fromPromise<Claim[], { max: number; local: string[] }>(async () => {
      throw new Error('no claim actor was provided: build the listener through src/runtime');
    }),
    heartbeat: fromCallback(() => undefined),
    markStopping: fromPromise<void>(async () => undefined),
    handOff: fromPromise<void, { tasks: TaskRef[] }>(async () => undefined),
    deregister: fromPromise<void>(async () => undefined),
    task: taskMachine,
  },
  guards: {
    stopRequested: ({ context }) => context.stopRequested,
    // Evaluated before the claim's spawns are applied, so count them in.
    fullAfterClaim: ({ context, event }) =>
      Object.keys(context.tasks).length + ((event as { output?: Claim[] }).output?.length ?? 0) >= context.concurrency,
    idle: ({ context }) => Object.keys(context.tasks).length === 0,
  },
  delays: {
    shutdownGrace: ({ context }) => context.shutdownGraceMs,
  },
  actions: {
    spawnTasks: enqueueActions(({ context, event, enqueue }) => {
      const claims = (event as unknown as { output: Claim[] }).output;
      const tasks = { ...context.tasks };
      let slot = 1;
      for (const claim of claims) {
        while (`${TASK_PREFIX}${slot}` in tasks) slot++;
        const id = `${TASK_PREFIX}${slot++}`;
        tasks[id] = claim.ref;
        enqueue.spawnChild('task', { id, input: { ...context.taskDefaults, ...claim } });
        enqueue(emit({ type: 'taskStarted', actorId: id, task: claim.ref, resumed: claim.resume !== undefined }));
      }
      enqueue.assign({ tasks });
    }),
    release: enqueueActions(({ context, event, enqueue }) => {
      const { actorId } = event as unknown as { actorId: string };
      const task = context.tasks[actorId];
      const { [actorId]: _, ...rest } = context.tasks;
      enqueue(stopChild(actorId));
      enqueue.assign({ tasks: rest });
      if (event.type.startsWith('xstate.done.actor.')) {
        enqueue(emit({ type: 'taskFinished', actorId, task, output: (event as unknown as { output: TaskOutput }).output }));
      } else {
        enqueue(emit({ type: 'taskCrashed', actorId, task, error: (event as unknown as { error: unknown }).error }));
      }
    }),
    forwardCancel: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'CANCEL_TASK') return;
      for (const [actorId, t] of Object.entries(context.tasks)) {
        if (t.id === event.taskId) enqueue(sendTo(actorId, { type: 'CANCEL', reason: event.reason }));
      }
    }),
    abandonAll: enqueueActions(({ context, enqueue }) => {
      for (const actorId of Object.keys(context.tasks)) enqueue(stopChild(actorId));
      enqueue(emit({ type: 'handedOff', tasks: Object.values(context.tasks) }));
      enqueue.assign({ tasks: {} });
    }),
    requestStop: assign({ stopRequested: true }),
    recordError: assign({ lastError: ({ event }) => message((event as { error?: unknown }).error) }),
  },
}).createMachine({
  id: 'listener',
  context: ({ input }) => ({ ...input, tasks: {}, stopRequested: false, lastError: undefined }),
  initial: 'connecting',
  on: {
    'xstate.done.actor.task.*': { actions: 'release' },
    'xstate.error.actor.task.*': { actions: 'release' },
    CANCEL_TASK: { actions: 'forwardCancel' },
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
        input: ({ context }) => ({
          max: context.concurrency - Object.keys(context.tasks).length,
          local: Object.values(context.tasks).map((t) => t.key),
        }),
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
      after: { shutdownGrace: 'handingOff' },
    },
    handingOff: {
      invoke: {
        src: 'handOff',
        input: ({ context }) => ({ tasks: Object.values(context.tasks) }),
        onDone: { target: 'deregistering', actions: 'abandonAll' },
        onError: { target: 'deregistering', actions: ['recordError', 'abandonAll'] },
      },
    },
    deregistering: {
      entry: stopChild('heartbeat'),
      invoke: { src: 'deregister', onDone: 'stopped', onError: 'stopped' },
    },
    stopped: { type: 'final' },
  },
});

export type ListenerMachine = typeof listenerMachine;
