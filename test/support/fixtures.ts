import type { Plan, PlanStep } from '../../src/protocol/plan.ts';
import { ZERO_USAGE, type WorkerName, type WorkerResult } from '../../src/protocol/output.ts';
import { parseTaskMessage, TaskMessageSchema, type TaskMessage } from '../../src/protocol/task.ts';
import { taskRefOf, type TaskRefWithId } from '../../src/protocol/taskRef.ts';
import type { TaskMachineInput } from '../../machines/task.machine.ts';

/** A task known by its id (every message that parsed): its key is the id (see taskRefOf). */
export const taskRef = (id: string): TaskRefWithId => ({ key: id, id });

/**
 * The tests' one task builder: a task as the protocol parses it
 * (TaskMessageSchema, its defaults filled in), with only what a test cares about.
 */
export function makeTask(
  description = 'Create user registration endpoint',
  o: { requirements?: string[]; context?: Record<string, unknown>; taskId?: string; timeoutSeconds?: number } = {},
): TaskMessage {
  return TaskMessageSchema.parse({
    task_id: o.taskId ?? 'task-1',
    type: 'task_assignment',
    source: 'test',
    destination: 'backend',
    payload: { description, requirements: o.requirements ?? [], context: o.context ?? {} },
    metadata: { priority: 'normal', timeout_seconds: o.timeoutSeconds ?? 300 },
  });
}

export const step = (worker: WorkerName, dependsOn: WorkerName[] = [], critical = dependsOn.length === 0): PlanStep => ({
  worker,
  instructions: `do the ${worker} part`,
  dependsOn,
  critical,
  reason: 'test',
});

/** db first, then api and auth in parallel: the seed's third worked example. */
export const dbThenApiAuth: Plan = {
  source: 'keywords',
  steps: [step('db-worker', [], true), step('api-worker', ['db-worker'], false), step('auth-worker', ['db-worker'], false)],
  notes: [],
};

export const workerResult = (worker: WorkerName, files: string[] = [`src/${worker}.js`], issues: string[] = []): WorkerResult => ({
  worker,
  summary: `${worker} did its part`,
  files_created: files,
  files_modified: [],
  issues,
  usage: { ...ZERO_USAGE, input_tokens: 10, output_tokens: 5 },
  turns: 2,
});

export const taskInput = (task: TaskMessage | string | undefined = makeTask(), over: Partial<TaskMachineInput> = {}): TaskMachineInput => {
  const raw = Buffer.from(typeof task === 'string' ? task : JSON.stringify(task ?? makeTask()));
  const parsed = parseTaskMessage(raw.toString());
  return {
    raw,
    parsed,
    ref: taskRefOf(raw, parsed),
    claimedAt: Date.now(),
    maxTakeovers: 3,
    workspaceRoot: '/tmp/orch-test-workspaces',
    workerAttempts: 2,
    workerBackoffMs: 1,
    ...over,
  };
};
