import { assign, enqueueActions, fromPromise, setup, stopChild } from 'xstate';
import type { Plan } from '../src/planning/plan.ts';
import type { TaskOutput } from '../src/protocol/output.ts';
import type { ParsedTask, TaskMessage } from '../src/protocol/task.ts';
import { aggregate } from '../src/results/aggregate.ts';
import type { FinalResult } from '../src/redis/results.ts';
import { abandon, advance, isSettled, recordOutcome, workerActorId, type StepState, type WorkerOutcome } from './steps.ts';
import { workerMachine } from './worker.machine.ts';

export interface TaskMachineInput {
  /** The exact text claimed from the queue. */
  raw: string;
  parsed: ParsedTask;
  claimedAt: number;
  /** Root of the task workspaces; this task works in `{root}/{task id}`. */
  workspaceRoot: string;
  workerAttempts: number;
  workerBackoffMs: number;
}

export interface TaskContext {
  raw: string;
  taskId: string | undefined;
  task: TaskMessage | undefined;
  /** Why the message itself was rejected (it goes to the dead letters). */
  rejection: string | undefined;
  /** Why the whole task failed before or outside its workers. */
  failure: string | undefined;
  /** Why the task was cut short (deadline). */
  cutShort: string | undefined;
  plan: Plan | undefined;
  steps: StepState[];
  workspace: string | undefined;
  startedAt: number;
  /** Absolute time (epoch ms): deadlines survive a restore, `after` timers do not. */
  deadline: number;
  workerAttempts: number;
  workerBackoffMs: number;
  output: TaskOutput | undefined;
  publishAttempts: number;
}

export type TaskEvent = { type: 'CANCEL'; reason?: string };

/** Task ids become folder names: keep them to a safe alphabet. */
export const workspaceFolder = (taskId: string): string => taskId.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_');

const PUBLISH_ATTEMPTS = 8;

/**
 * One task from claim to published result. received → analyzing →
 * dispatching → aggregating → publishing → completed | partial | failed.
 * Rejected input, a plan with no step, a planner error, a deadline and a
 * cancel all lead through aggregating and publishing too, so every claimed
 * message ends with exactly one publication (or dead letter). All I/O is in
 * the actors `planTask`, `worker` (which invokes `runAgent`) and `publish`.
 */
export const taskMachine = setup({
  types: {
    input: {} as TaskMachineInput,
    context: {} as TaskContext,
    events: {} as TaskEvent,
    output: {} as TaskOutput,
  },
  actors: {
    planTask: fromPromise<Plan, { task: TaskMessage }>(async () => {
      throw new Error('no planTask actor was provided: build the task machine through src/runtime');
    }),
    worker: workerMachine,
    publish: fromPromise<void, FinalResult>(async () => {
      throw new Error('no publish actor was provided: build the task machine through src/runtime');
    }),
  },
  guards: {
    isValid: ({ context }) => context.task !== undefined,
    planIsEmpty: ({ event }) => (event as { output?: Plan }).output?.steps.length === 0,
    allSettled: ({ context }) => context.steps.every(isSettled),
    succeeded: ({ context }) =>
      context.output?.outcome === 'completed' || context.output?.outcome === 'completed_with_warnings',
    partial: ({ context }) => context.output?.outcome === 'partial',
    canRetryPublish: ({ context }) => context.publishAttempts < PUBLISH_ATTEMPTS,
  },
  delays: {
    untilDeadline: ({ context }) => Math.max(0, context.deadline - Date.now()),
    publishBackoff: ({ context }) => Math.min(100 * 2 ** context.publishAttempts, 10_000),
  },
  actions: {
    launchReady: enqueueActions(({ context, enqueue }) => {
      const { steps, start } = advance(context.steps);
      enqueue.assign({ steps });
      const { task, plan, taskId, workspace } = context;
      if (!task || !plan || !taskId || !workspace) return;
      for (const step of start) {
        const dependencies = steps
          .filter((s) => step.dependsOn.includes(s.step.worker) && s.result)
          .map((s) => ({
            worker: s.step.worker,
            summary: s.result!.summary,
            files_created: s.result!.files_created,
            files_modified: s.result!.files_modified,
          }));
        enqueue.spawnChild('worker', {
          id: workerActorId(step.worker),
          input: {
            taskId,
            task,
            plan,
            step,
            dependencies,
            workspace,
            maxAttempts: context.workerAttempts,
            backoffMs: context.workerBackoffMs,
          },
        });
      }
    }),
    recordWorker: enqueueActions(({ context, event, enqueue }) => {
      const outcome = (event as unknown as { output: WorkerOutcome }).output;
      enqueue.assign({ steps: recordOutcome(context.steps, outcome) });
      enqueue(stopChild(workerActorId(outcome.worker)));
    }),
    abandonRunning: enqueueActions(({ context, enqueue }, params: { reason: string; fatal: boolean }) => {
      for (const s of context.steps) if (s.status === 'running') enqueue(stopChild(workerActorId(s.step.worker)));
      enqueue.assign({
        steps: abandon(context.steps, params.reason),
        ...(params.fatal ? { failure: params.reason } : { cutShort: params.reason }),
      });
    }),
    aggregate: assign({
      output: ({ context }) =>
        aggregate({
          taskId: context.taskId ?? 'unknown',
          plan: context.plan,
          steps: context.steps,
          failure: context.failure ?? context.rejection,
          cutShort: context.cutShort,
          workspace: context.workspace,
          startedAt: context.startedAt,
          finishedAt: Date.now(),
        }),
    }),
  },
}).createMachine({
  id: 'task',
  context: ({ input }) => {
    const { parsed } = input;
    const task = parsed.ok ? parsed.task : undefined;
    const taskId = parsed.ok ? parsed.task.task_id : parsed.taskId;
    return {
      raw: input.raw,
      taskId,
      task,
      rejection: parsed.ok ? undefined : parsed.reason,
      failure: undefined,
      cutShort: undefined,
      plan: undefined,
      steps: [],
      workspace: task ? `${input.workspaceRoot}/${workspaceFolder(task.task_id)}` : undefined,
      startedAt: input.claimedAt,
      deadline: input.claimedAt + (task?.metadata.timeout_seconds ?? 0) * 1000,
      workerAttempts: input.workerAttempts,
      workerBackoffMs: input.workerBackoffMs,
      output: undefined,
      publishAttempts: 0,
    };
  },
  initial: 'received',
  states: {
    received: {
      always: [{ guard: 'isValid', target: 'analyzing' }, { target: 'aggregating' }],
    },
    analyzing: {
      invoke: {
        id: 'planner',
        src: 'planTask',
        input: ({ context }) => ({ task: context.task! }),
        onDone: [
          {
            guard: 'planIsEmpty',
            target: 'aggregating',
            actions: assign({
              plan: ({ event }) => event.output,
              failure: ({ event }) =>
                `no backend worker matches this task: ${event.output.notes.join(' ') || 'no api, db or auth keyword found'}`,
            }),
          },
          {
            target: 'dispatching',
            actions: assign({
              plan: ({ event }) => event.output,
              steps: ({ event }) => event.output.steps.map((step) => ({ step, status: 'waiting' as const, attempts: 0 })),
            }),
          },
        ],
        onError: {
          target: 'aggregating',
          actions: assign({
            failure: ({ event }) => `planning failed: ${event.error instanceof Error ? event.error.message : String(event.error)}`,
          }),
        },
      },
      after: {
        untilDeadline: { target: 'aggregating', actions: assign({ failure: 'timed out while planning' }) },
      },
      on: {
        CANCEL: { target: 'aggregating', actions: assign({ failure: ({ event }) => event.reason ?? 'cancelled' }) },
      },
    },
    dispatching: {
      entry: 'launchReady',
      always: { guard: 'allSettled', target: 'aggregating' },
      on: {
        'xstate.done.actor.*': { actions: ['recordWorker', 'launchReady'] },
        CANCEL: {
          target: 'aggregating',
          actions: { type: 'abandonRunning', params: ({ event }) => ({ reason: event.reason ?? 'cancelled', fatal: true }) },
        },
      },
      after: {
        untilDeadline: {
          target: 'aggregating',
          actions: {
            type: 'abandonRunning',
            params: ({ context }) => ({
              reason: `timed out after ${context.task?.metadata.timeout_seconds ?? 0}s`,
              fatal: false,
            }),
          },
        },
      },
    },
    aggregating: {
      entry: 'aggregate',
      always: 'publishing',
    },
    publishing: {
      invoke: {
        id: 'publisher',
        src: 'publish',
        input: ({ context }): FinalResult => ({
          raw: context.raw,
          taskId: context.taskId,
          outcome: context.output!.outcome,
          output: context.output!,
          error: context.output!.error,
          rejection: context.rejection,
        }),
        onDone: [
          { guard: 'succeeded', target: 'completed' },
          { guard: 'partial', target: 'partial' },
          { target: 'failed' },
        ],
        onError: [
          { guard: 'canRetryPublish', target: 'publishRetry' },
          { target: 'unpublished' },
        ],
      },
    },
    publishRetry: {
      entry: assign({ publishAttempts: ({ context }) => context.publishAttempts + 1 }),
      after: { publishBackoff: 'publishing' },
    },
    completed: { type: 'final' },
    partial: { type: 'final' },
    failed: { type: 'final' },
    /** Redis refused the result every time: the task stays in `tasks:active` for recovery. */
    unpublished: { type: 'final' },
  },
  output: ({ context }) => context.output!,
});

export type TaskMachine = typeof taskMachine;
