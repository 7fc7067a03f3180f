import { assign, fromPromise, setup } from 'xstate';
import type { Plan, PlanStep } from '../src/planning/plan.ts';
import type { TaskMessage } from '../src/protocol/task.ts';
import type { WorkerResult } from '../src/protocol/output.ts';
import type { DependencyOutput } from '../src/workers/types.ts';
import { WorkerRunError } from '../src/workers/workerRunError.ts';
import type { WorkerOutcome } from './steps.ts';

export interface WorkerMachineInput {
  taskId: string;
  /** Names the task's checkpoint, where a finished worker's result is saved. */
  claimKey: string;
  task: TaskMessage;
  plan: Plan;
  step: PlanStep;
  dependencies: DependencyOutput[];
  workspace: string;
  maxAttempts: number;
  backoffMs: number;
}

/** The input of one attempt: what the `runAgent` actor gets. */
export interface AgentRunInput extends Omit<WorkerMachineInput, 'maxAttempts' | 'backoffMs'> {
  attempt: number;
}

interface WorkerContext extends WorkerMachineInput {
  attempt: number;
  startedAt: number;
  result: WorkerResult | undefined;
  error: string | undefined;
}

const MAX_BACKOFF_MS = 60_000;

/**
 * One worker run: `running` invokes the agent (its AbortSignal fires when the
 * state is left or the actor stopped, cancelling the model call); a retryable
 * failure waits in `retrying` (exponential backoff) and runs again, up to
 * `maxAttempts`. It never errors: it ends in `succeeded` or `failed` and its
 * output is a WorkerOutcome the task actor records.
 */
export const workerMachine = setup({
  types: {
    input: {} as WorkerMachineInput,
    context: {} as WorkerContext,
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
    canRetry: ({ context, event }) => {
      const error = (event as { error?: unknown }).error;
      return context.attempt < context.maxAttempts && error instanceof WorkerRunError && error.retryable;
    },
  },
  delays: {
    backoff: ({ context }) => Math.min(context.backoffMs * 2 ** (context.attempt - 1), MAX_BACKOFF_MS),
  },
  actions: {
    recordError: assign({
      error: ({ event }) => {
        const error = (event as { error?: unknown }).error;
        return error instanceof Error ? error.message : String(error);
      },
    }),
  },
}).createMachine({
  id: 'worker',
  context: ({ input }) => ({ ...input, attempt: 1, startedAt: Date.now(), result: undefined, error: undefined }),
  initial: 'running',
  states: {
    running: {
      invoke: {
        id: 'agent',
        src: 'runAgent',
        input: ({ context }): AgentRunInput => ({
          taskId: context.taskId,
          claimKey: context.claimKey,
          task: context.task,
          plan: context.plan,
          step: context.step,
          dependencies: context.dependencies,
          workspace: context.workspace,
          attempt: context.attempt,
        }),
        onDone: { target: 'succeeded', actions: assign({ result: ({ event }) => event.output, error: undefined }) },
        onError: [
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
  },
  output: ({ context }): WorkerOutcome => {
    const outcome: WorkerOutcome = {
      worker: context.step.worker,
      status: context.result ? 'succeeded' : 'failed',
      attempts: context.attempt,
      durationMs: Date.now() - context.startedAt,
    };
    if (context.result) outcome.result = context.result;
    else outcome.error = context.error ?? 'unknown error';
    return outcome;
  },
});
