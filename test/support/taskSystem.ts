import { fromPromise } from 'xstate';
import { taskMachine } from '../../machines/task.machine.ts';
import { workerMachine, type AgentRunInput } from '../../machines/worker.machine.ts';
import type { Plan } from '../../src/protocol/plan.ts';
import type { FinalResult } from '../../src/protocol/claim.ts';
import type { WorkerResult } from '../../src/protocol/output.ts';
import { dbThenApiAuth, workerResult } from './fixtures.ts';

export interface StubTaskOptions {
  plan?: Plan;
  /** Throws to fail an attempt; default: every worker succeeds. */
  run?: (input: AgentRunInput) => Promise<WorkerResult>;
  published?: boolean;
}

/** The real task and worker machines, with planner, agent and publisher swapped for stubs. */
export function stubTaskMachine(o: StubTaskOptions = {}) {
  const run = o.run ?? (async (input: AgentRunInput) => workerResult(input.step.worker));
  return taskMachine.provide({
    actors: {
      planTask: fromPromise(async () => o.plan ?? dbThenApiAuth),
      worker: workerMachine.provide({ actors: { runAgent: fromPromise<WorkerResult, AgentRunInput>(({ input }) => run(input)) } }),
      publish: fromPromise<{ published: boolean }, FinalResult>(async () => ({ published: o.published ?? true })),
    },
  });
}
