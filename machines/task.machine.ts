import { assign, enqueueActions, fromPromise, setup, stopChild } from 'xstate';
import type { Plan } from '../src/protocol/plan.ts';
import type { Claim, FinalResult } from '../src/protocol/claim.ts';
import type { TaskOutput } from '../src/protocol/output.ts';
import type { TaskMessage } from '../src/protocol/task.ts';
import { hasId, type TaskRef } from '../src/protocol/taskRef.ts';
import type { ModelWait } from '../src/limits/modelGate.ts';
import { aggregate } from '../src/results/aggregate.ts';
import { taskDirName } from '../src/workers/taskDirName.ts';
import { abandon, advance, isSettled, recordOutcome, workerActorId, type StepState, type WorkerOutcome } from './steps.ts';
import { workerMachine } from './worker.machine.ts';

export interface TaskMachineInput extends Claim {
  /** A task taken over more often than this is failed and dead-lettered. */
  maxTakeovers: number;
  /** Root of the task workspaces; this task works in `{root}/{task id}`. */
  workspaceRoot: string;
  workerAttempts: number;
  workerBackoffMs: number;
}

export interface TaskContext {
  raw: Buffer;
  /** Who the task is (Claim.ref): no id for a rejected message none could be recovered from. */
  ref: TaskRef;
  task: TaskMessage | undefined;
  /** Why the message itself was rejected (it goes to the dead letters). */
  rejection: string | undefined;
  /** Why the raw message goes to the dead letters (rejected, or crashed its holders too often). */
  deadLetter: string | undefined;
  /** What the claim learnt of the producer's record, for the publication. */
  resultRecord: Claim['resultRecord'];
  takeovers: number;
  maxTakeovers: number;
  /** A cancel that reached the task while nobody held it. */
  pendingCancel: string | undefined;
  /** Why the whole task failed before or outside its workers. */
  failure: string | undefined;
  /** Why the task was cut short (deadline). */
  cutShort: string | undefined;
  /** At the deadline, workers were waiting for the model API behind the open breaker: "model API unavailable for N s". */
  modelUnavailable: string | undefined;
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
  /** False when another instance took the task over and publishes instead. */
  published: boolean | undefined;
  /** This holder's fencing token (Claim.fence), carried to the merge and the publication. */
  fence: string | undefined;
}

export type TaskEvent = { type: 'CANCEL'; reason?: string };

/** Task ids become folder names: one folder per id, no two ids sharing one (see taskDirName). */
export const workspaceFolder = taskDirName;

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
    planTask: fromPromise<Plan, { task: TaskMessage; ref: TaskRef }>(async () => {
      throw new Error('no planTask actor was provided: build the task machine through src/runtime');
    }),
    worker: workerMachine,
    publish: fromPromise<{ published: boolean }, FinalResult>(async () => {
      throw new Error('no publish actor was provided: build the task machine through src/runtime');
    }),
  },
  guards: {
    isValid: ({ context }) => context.task !== undefined,
    tooManyTakeovers: ({ context }) => context.takeovers > context.maxTakeovers,
    cancelledWhileHeld: ({ context }) => context.pendingCancel !== undefined,
    resumesWithPlan: ({ context }) => context.task !== undefined && context.plan !== undefined,
    superseded: ({ event }) => (event as { output?: { published: boolean } }).output?.published === false,
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
      const { task, plan, ref, workspace } = context;
      if (!task || !plan || !hasId(ref) || !workspace) return;
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
            ref,
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
    noteModelUnavailable: assign({
      modelUnavailable: ({ self }) => {
        // Read off the workers' own snapshots: one waiting behind the breaker knows since when the API refuses.
        let since: number | undefined;
        for (const child of Object.values(self.getSnapshot().children ?? {})) {
          const wait = (child?.getSnapshot() as { context?: { wait?: ModelWait } } | undefined)?.context?.wait;
          if (wait?.reason === 'breaker_open' && wait.unavailableSince !== undefined) since = Math.min(since ?? Infinity, wait.unavailableSince);
        }
        return since === undefined ? undefined : `model API unavailable for ${Math.max(0, Math.round((Date.now() - since) / 1000))} s`;
      },
    }),
    aggregate: assign({
      output: ({ context }) =>
        aggregate({
          taskId: context.ref.id ?? 'unknown',
          plan: context.plan,
          steps: context.steps,
          failure: context.failure ?? context.rejection,
          cutShort: context.cutShort,
          workspace: context.workspace,
          ...(context.modelUnavailable ? { reason: 'model_api_unavailable' as const } : {}),
          startedAt: context.startedAt,
          finishedAt: Date.now(),
        }),
    }),
  },
}).createMachine({
  id: 'task',
  context: ({ input }) => {
    const { parsed, resume } = input;
    const task = parsed.ok ? parsed.task : undefined;
    const plan = task ? resume?.plan : undefined;
    return {
      raw: input.raw,
      ref: input.ref,
      task,
      rejection: parsed.ok ? undefined : parsed.reason,
      deadLetter: parsed.ok ? undefined : parsed.reason,
      resultRecord: input.resultRecord,
      takeovers: resume?.takeovers ?? 0,
      maxTakeovers: input.maxTakeovers,
      pendingCancel: resume?.cancel,
      failure: undefined,
      cutShort: undefined,
      modelUnavailable: undefined,
      plan,
      // A resumed task keeps what its finished workers did; the others run (again).
      steps: (plan?.steps ?? []).map((step): StepState => {
        const result = resume?.results[step.worker];
        return result ? { step, status: 'succeeded', attempts: 1, result } : { step, status: 'waiting', attempts: 0 };
      }),
      workspace: task ? `${input.workspaceRoot}/${workspaceFolder(task.task_id)}` : undefined,
      startedAt: input.claimedAt,
      deadline: input.claimedAt + (task?.metadata.timeout_seconds ?? 0) * 1000,
      workerAttempts: input.workerAttempts,
      workerBackoffMs: input.workerBackoffMs,
      output: undefined,
      publishAttempts: 0,
      published: undefined,
      fence: input.fence,
    };
  },
  initial: 'received',
  states: {
    received: {
      always: [
        {
          guard: 'tooManyTakeovers',
          target: 'aggregating',
          actions: assign(({ context }) => {
            const reason = `the task crashed its holder ${context.takeovers} times (limit ${context.maxTakeovers}); its message is kept in the dead letters`;
            return { failure: reason, deadLetter: reason };
          }),
        },
        { guard: 'cancelledWhileHeld', target: 'aggregating', actions: assign({ failure: ({ context }) => context.pendingCancel }) },
        { guard: 'resumesWithPlan', target: 'dispatching' },
        { guard: 'isValid', target: 'analyzing' },
        { target: 'aggregating' },
      ],
    },
    analyzing: {
      invoke: {
        id: 'planner',
        src: 'planTask',
        input: ({ context }) => ({ task: context.task!, ref: context.ref }),
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
          actions: [
            'noteModelUnavailable',
            {
              type: 'abandonRunning',
              params: ({ context }) => ({
                reason: context.modelUnavailable
                  ? `timed out after ${context.task?.metadata.timeout_seconds ?? 0}s: ${context.modelUnavailable}`
                  : `timed out after ${context.task?.metadata.timeout_seconds ?? 0}s`,
                fatal: false,
              }),
            },
          ],
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
          ref: context.ref,
          outcome: context.output!.outcome,
          output: context.output!,
          error: context.output!.error,
          deadLetter: context.deadLetter,
          ...(context.resultRecord ? { resultRecord: context.resultRecord } : {}),
          ...(context.fence !== undefined ? { fence: context.fence } : {}),
        }),
        onDone: [
          { guard: 'superseded', target: 'superseded', actions: assign({ published: false }) },
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
    /** Another instance took the task over (this one was presumed dead) and publishes it. */
    superseded: { type: 'final' },
  },
  output: ({ context }) => context.output!,
});

export type TaskMachine = typeof taskMachine;
