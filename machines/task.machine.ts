import { assign, enqueueActions, fromPromise, setup, stopChild } from 'xstate';
import type { Plan } from '../src/protocol/plan.ts';
import type { Claim, FinalResult } from '../src/protocol/claim.ts';
import type { TaskOutput } from '../src/protocol/output.ts';
import type { TaskMessage } from '../src/protocol/task.ts';
import { hasId, type TaskRef } from '../src/protocol/taskRef.ts';
import type { ModelWait } from '../src/limits/modelGate.ts';
import { aggregate } from '../src/results/aggregate.ts';
import { taskDirName } from '../src/workers/taskDirName.ts';
import { abandon, advance, isSettled, recordFixOutcome, recordOutcome, workerActorId, type StepState, type WorkerOutcome } from './steps.ts';
import type { CheckResult } from '../src/protocol/checks.ts';
import type { WorkerName } from '../src/protocol/output.ts';
import type { TaskRefWithId } from '../src/protocol/taskRef.ts';
import { checkNotRun, checksFor, fixTargets, type RunChecksInput } from '../src/results/checks.ts';
import { workerMachine } from './worker.machine.ts';

export interface TaskMachineInput extends Claim {
  /** A task taken over more often than this is failed and dead-lettered. */
  maxTakeovers: number;
  /** Root of the task workspaces; this task works in `{root}/{task id}`. */
  workspaceRoot: string;
  workerAttempts: number;
  workerBackoffMs: number;
  /** The project's checks (`--verify`), run in order after the workers; none: the task is not verified. */
  verify?: readonly string[];
  /** Fix rounds after failing checks (`--fix-rounds`). */
  fixRounds?: number;
  /** Whether the task's `payload.context.verify` may replace the checks (`--allow-task-checks`). */
  allowTaskChecks?: boolean;
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
  /** The commands of the task's checks (empty: not verified). */
  checks: string[];
  fixRounds: number;
  /** 0 until the first fix round; then the fix round under way or last run. */
  round: number;
  /** The checks' latest runs. */
  checkResults: CheckResult[] | undefined;
  /** Workers of the fix round still running. */
  fixing: WorkerName[];
  /** What the checks add to the issues (a fix run that failed, an ignored task list of checks). */
  checkIssues: string[];
}

export type TaskEvent = { type: 'CANCEL'; reason?: string };

const timedOut = (context: TaskContext, where: string): string =>
  `timed out after ${context.task?.metadata.timeout_seconds ?? 0}s ${where}`;

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
    runChecks: fromPromise<CheckResult[], RunChecksInput>(async () => {
      throw new Error('no runChecks actor was provided: build the task machine through src/runtime');
    }),
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
    /** A resumed task whose fix round had not finished: its remaining workers run. */
    resumesFix: ({ context }) => context.steps.every(isSettled) && context.fixing.length > 0,
    /** Checks are declared, and the workers left something to check (no critical step failed). */
    verifies: ({ context }) =>
      context.steps.every(isSettled) &&
      context.checks.length > 0 &&
      context.steps.some((s) => s.status === 'succeeded') &&
      !context.steps.some((s) => s.status === 'failed' && s.step.critical),
    checksPassed: ({ event }) => ((event as { output?: CheckResult[] }).output ?? []).every((c) => c.passed),
    canFix: ({ context }) => context.round < context.fixRounds && !context.steps.some((s) => s.stoppedBy === 'budget'),
    fixesSettled: ({ context }) => context.fixing.length === 0,
    /** A fix run stopped at the task's budget: no more rounds, the checks' last runs stand. */
    budgetSpent: ({ context }) => context.fixing.length === 0 && context.steps.some((s) => s.stoppedBy === 'budget'),
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
    recordChecks: assign({ checkResults: ({ event }) => (event as unknown as { output: CheckResult[] }).output }),
    checksNotRun: assign({
      checkResults: ({ context, event }) => {
        const why = (event as { error?: unknown }).error;
        const reason = why instanceof Error ? why.message : String(why);
        return context.checks.map((command) => checkNotRun(command, reason, (context.checkResults?.find((c) => c.command === command)?.rounds ?? 0) + 1));
      },
    }),
    startFixRound: assign(({ context }) => {
      const failing = (context.checkResults ?? []).filter((c) => !c.passed);
      const results = Object.fromEntries(context.steps.flatMap((s) => (s.status === 'succeeded' && s.result ? [[s.step.worker, s.result]] : [])));
      return { round: context.round + 1, fixing: fixTargets(failing, results) };
    }),
    launchFixes: enqueueActions(({ context, enqueue }) => {
      const { task, plan, ref, workspace } = context;
      if (!task || !plan || !hasId(ref) || !workspace) return;
      for (const worker of context.fixing) {
        const state = context.steps.find((s) => s.step.worker === worker);
        if (!state?.result) continue;
        enqueue.spawnChild('worker', {
          id: workerActorId(worker),
          input: {
            ref,
            task,
            plan,
            step: state.step,
            dependencies: [],
            workspace,
            maxAttempts: context.workerAttempts,
            backoffMs: context.workerBackoffMs,
            fix: { round: context.round, rounds: context.fixRounds, workers: context.fixing, checks: context.checkResults ?? [], previous: state.result },
          },
        });
      }
    }),
    recordFix: enqueueActions(({ context, event, enqueue }) => {
      const outcome = (event as unknown as { output: WorkerOutcome }).output;
      enqueue(stopChild(workerActorId(outcome.worker)));
      enqueue.assign({
        fixing: context.fixing.filter((w) => w !== outcome.worker),
        steps: context.steps.map((s) => (s.step.worker === outcome.worker ? recordFixOutcome(s, outcome) : s)),
        checkIssues: outcome.status === 'succeeded'
          ? context.checkIssues
          : [...context.checkIssues, `${outcome.worker} fix round ${context.round} failed: ${outcome.error ?? 'unknown error'}`],
      });
    }),
    abandonFixes: enqueueActions(({ context, enqueue }, params: { reason: string; fatal: boolean }) => {
      for (const worker of context.fixing) enqueue(stopChild(workerActorId(worker)));
      enqueue.assign({
        fixing: [],
        checkIssues: [...context.checkIssues, ...context.fixing.map((w) => `${w} fix round ${context.round} stopped: ${params.reason}`)],
        ...(params.fatal ? { failure: params.reason } : { cutShort: params.reason }),
      });
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
          // A task that never reached its checks with work to check (rejected, failed) is not said to have failing checks.
          ...(context.checks.length > 0 && (context.checkResults !== undefined || context.steps.some((s) => s.status === 'succeeded'))
            ? { declaredChecks: context.checks, ...(context.checkResults ? { checks: context.checkResults } : {}) }
            : {}),
          checkIssues: context.checkIssues,
        }),
    }),
  },
}).createMachine({
  id: 'task',
  context: ({ input }) => {
    const { parsed, resume } = input;
    const task = parsed.ok ? parsed.task : undefined;
    const plan = task ? resume?.plan : undefined;
    const chosen = checksFor(task, input.verify ?? [], input.allowTaskChecks ?? false);
    // A fix round a crash interrupted: its workers that had not finished it run again, the others not.
    const fix = plan ? resume?.fix : undefined;
    const unfinished = fix ? fix.workers.filter((w) => resume?.results[w] !== undefined && resume.results[w]!.round !== fix.round) : [];
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
      checks: chosen.commands,
      fixRounds: input.fixRounds ?? 0,
      round: fix?.round ?? 0,
      checkResults: plan ? resume?.checks : undefined,
      fixing: unfinished,
      checkIssues: chosen.note ? [chosen.note] : [],
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
      always: [
        { guard: 'resumesFix', target: 'fixing' },
        { guard: 'verifies', target: 'verifying' },
        { guard: 'allSettled', target: 'aggregating' },
      ],
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
    /** The project's checks run where the workers worked (runChecks); skipped when none are declared. */
    verifying: {
      invoke: {
        id: 'checks',
        src: 'runChecks',
        input: ({ context }): RunChecksInput => ({
          ref: context.ref as TaskRefWithId,
          commands: context.checks,
          round: context.round,
          previous: context.checkResults,
          workspace: context.workspace!,
        }),
        onDone: [
          { guard: 'checksPassed', target: 'aggregating', actions: 'recordChecks' },
          { guard: 'canFix', target: 'fixing', actions: ['recordChecks', 'startFixRound'] },
          { target: 'aggregating', actions: 'recordChecks' },
        ],
        onError: { target: 'aggregating', actions: 'checksNotRun' },
      },
      after: {
        untilDeadline: { target: 'aggregating', actions: assign({ cutShort: ({ context }) => timedOut(context, 'while its checks ran') }) },
      },
      on: {
        CANCEL: { target: 'aggregating', actions: assign({ failure: ({ event }) => event.reason ?? 'cancelled' }) },
      },
    },
    /** The workers a failure points at run again with it, in the same place; then the checks run again. */
    fixing: {
      entry: 'launchFixes',
      always: [
        { guard: 'budgetSpent', target: 'aggregating' },
        { guard: 'fixesSettled', target: 'verifying' },
      ],
      on: {
        'xstate.done.actor.*': { actions: 'recordFix' },
        CANCEL: {
          target: 'aggregating',
          actions: { type: 'abandonFixes', params: ({ event }) => ({ reason: event.reason ?? 'cancelled', fatal: true }) },
        },
      },
      after: {
        untilDeadline: {
          target: 'aggregating',
          actions: { type: 'abandonFixes', params: ({ context }) => ({ reason: timedOut(context, `in fix round ${context.round}`), fatal: false }) },
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
