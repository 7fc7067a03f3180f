import { assign, fromPromise, setup, type AnyActorRef } from 'xstate';
import type { Plan, PlanStep } from '../src/protocol/plan.ts';
import type { TaskMessage } from '../src/protocol/task.ts';
import type { TaskRefWithId } from '../src/protocol/taskRef.ts';
import type { WorkerName, WorkerResult } from '../src/protocol/output.ts';
import type { CheckResult } from '../src/protocol/checks.ts';
import type { DependencyOutput } from '../src/workers/types.ts';
import { addUsage, ZERO_USAGE } from '../src/protocol/output.ts';
import type { ModelWait } from '../src/limits/modelGate.ts';
import { WorkerBudgetError } from '../src/workers/workerBudgetError.ts';
import { WorkerRunError, type Spent } from '../src/workers/workerRunError.ts';
import type { WorkerOutcome } from './steps.ts';

export interface WorkerMachineInput {
  /** Who the task is: its key names the checkpoint (where a finished worker's result is saved), its id the task's log, workspace and branch. Workers run only for a task that has an id. */
  ref: TaskRefWithId;
  task: TaskMessage;
  plan: Plan;
  step: PlanStep;
  dependencies: DependencyOutput[];
  workspace: string;
  maxAttempts: number;
  backoffMs: number;
  /** A fix round's run: the checks that failed and this worker's earlier result (src/results/checks.ts). */
  fix?: FixInput;
}

/** What a worker run of a fix round is told besides its step. */
export interface FixInput {
  /** 1-based; of `rounds` at most. */
  round: number;
  rounds: number;
  /** The workers this round sent the failure to (recorded in the checkpoint when it starts). */
  workers: WorkerName[];
  checks: CheckResult[];
  previous: WorkerResult;
}

/** The input of one attempt: what the `runAgent` actor gets. */
export interface AgentRunInput extends Omit<WorkerMachineInput, 'maxAttempts' | 'backoffMs'> {
  attempt: number;
  /** The worker actor: the run sends it MODEL_WAIT and MODEL_RESUMED while a model call is held back. */
  worker?: AnyActorRef;
}

/** Sent by the running agent: a model call waits for the domain's limits or breaker, or goes ahead again. */
export type WorkerEvent = ({ type: 'MODEL_WAIT' } & ModelWait) | { type: 'MODEL_RESUMED' };

interface WorkerContext extends WorkerMachineInput {
  attempt: number;
  startedAt: number;
  result: WorkerResult | undefined;
  error: string | undefined;
  /** Why the current model call waits (only in running.waitingForModel). */
  wait: ModelWait | undefined;
  /** Tokens and dollars of the attempts so far, failed ones included. */
  spent: Spent;
  stoppedBy: 'budget' | undefined;
}

const spentOf = (error: unknown): Spent | undefined => (error instanceof WorkerRunError ? error.spent : undefined);
const plus = (a: Spent, b: Spent | undefined): Spent =>
  b === undefined ? a : { usage: addUsage(a.usage, b.usage), cost_usd: a.cost_usd === null || b.cost_usd === null ? null : a.cost_usd + b.cost_usd };

const MAX_BACKOFF_MS = 60_000;

/**
 * One worker run: `running` invokes the agent (its AbortSignal fires when the
 * state is left or the actor stopped, cancelling the model call); while a
 * model call waits for a slot or for the breaker it is in
 * `running.waitingForModel` (the agent goes on being invoked, and the wait
 * costs no attempt); a retryable failure waits in `retrying` (exponential
 * backoff) and runs again, up to `maxAttempts`; a budget guard ends it in
 * `budgetExceeded`. It never errors: it ends in `succeeded`, `failed` or
 * `budgetExceeded` and its output is a WorkerOutcome the task actor records.
 */
export const workerMachine = setup({
  types: {
    input: {} as WorkerMachineInput,
    context: {} as WorkerContext,
    events: {} as WorkerEvent,
    output: {} as WorkerOutcome,
  },
  actors: {
    runAgent: fromPromise<WorkerResult, AgentRunInput>(async () => {
      throw new WorkerRunError('no runAgent actor was provided: build the task machine through src/runtime', {
        retryable: false,
      });
    }),
  },
  guards: {
    overBudget: ({ event }) => (event as { error?: unknown }).error instanceof WorkerBudgetError,
    canRetry: ({ context, event }) => {
      const error = (event as { error?: unknown }).error;
      return context.attempt < context.maxAttempts && error instanceof WorkerRunError && error.retryable;
    },
  },
  delays: {
    backoff: ({ context }) => Math.min(context.backoffMs * 2 ** (context.attempt - 1), MAX_BACKOFF_MS),
  },
  actions: {
    recordWait: assign({
      wait: ({ event }) => {
        const e = event as Extract<WorkerEvent, { type: 'MODEL_WAIT' }>;
        return e.unavailableSince === undefined ? { reason: e.reason } : { reason: e.reason, unavailableSince: e.unavailableSince };
      },
    }),
    recordError: assign({
      error: ({ event }) => {
        const error = (event as { error?: unknown }).error;
        return error instanceof Error ? error.message : String(error);
      },
      spent: ({ context, event }) => plus(context.spent, spentOf((event as { error?: unknown }).error)),
    }),
  },
}).createMachine({
  id: 'worker',
  context: ({ input }) => ({
    ...input,
    attempt: 1,
    startedAt: Date.now(),
    result: undefined,
    error: undefined,
    wait: undefined,
    spent: { usage: ZERO_USAGE, cost_usd: 0 },
    stoppedBy: undefined,
  }),
  initial: 'running',
  states: {
    running: {
      initial: 'working',
      states: {
        working: {
          on: { MODEL_WAIT: { target: 'waitingForModel', actions: 'recordWait' } },
        },
        waitingForModel: {
          on: {
            MODEL_WAIT: { actions: 'recordWait' },
            MODEL_RESUMED: { target: 'working' },
          },
          exit: assign({ wait: undefined }),
        },
      },
      invoke: {
        id: 'agent',
        src: 'runAgent',
        input: ({ context, self }): AgentRunInput => ({
          ref: context.ref,
          task: context.task,
          plan: context.plan,
          step: context.step,
          dependencies: context.dependencies,
          workspace: context.workspace,
          ...(context.fix ? { fix: context.fix } : {}),
          attempt: context.attempt,
          worker: self,
        }),
        onDone: {
          target: 'succeeded',
          actions: assign({
            result: ({ event }) => event.output,
            error: undefined,
            spent: ({ context, event }) => plus(context.spent, { usage: event.output.usage, cost_usd: event.output.cost_usd === undefined ? 0 : event.output.cost_usd }),
          }),
        },
        onError: [
          { guard: 'overBudget', target: 'budgetExceeded', actions: ['recordError', assign({ stoppedBy: 'budget' })] },
          { guard: 'canRetry', target: 'retrying', actions: 'recordError' },
          { target: 'failed', actions: 'recordError' },
        ],
      },
    },
    retrying: {
      after: { backoff: { target: 'running', actions: assign({ attempt: ({ context }) => context.attempt + 1 }) } },
    },
    succeeded: { type: 'final' },
    failed: { type: 'final' },
    /** A budget guard stopped it (the task's dollars, or its own tokens); what it wrote stays, it is not retried. */
    budgetExceeded: { type: 'final' },
  },
  output: ({ context }): WorkerOutcome => {
    const outcome: WorkerOutcome = {
      worker: context.step.worker,
      status: context.result ? 'succeeded' : 'failed',
      attempts: context.attempt,
      durationMs: Date.now() - context.startedAt,
      spent: context.spent,
    };
    if (context.result) outcome.result = context.result;
    else outcome.error = context.error ?? 'unknown error';
    if (context.stoppedBy) outcome.stoppedBy = context.stoppedBy;
    return outcome;
  },
});
