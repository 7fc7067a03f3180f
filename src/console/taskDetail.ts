import type { Redis } from 'ioredis';
import { taskView } from '../client/overview.ts';
import type { Plan } from '../protocol/plan.ts';
import type { Keys } from '../protocol/keys.ts';
import { parseTaskMessage } from '../protocol/task.ts';
import { parsePrompts } from '../redis/prompts.ts';

/** A plan step as the console draws it. */
export interface StepView {
  worker: string;
  dependsOn: string[];
  critical: boolean;
  /** What the worker is asked to do (its part of the prompt). */
  instructions: string | undefined;
}

/** A worker as the task page shows it: where it stands, and what it produced once finished. */
export interface WorkerPanel {
  worker: string;
  /** waiting, running, retrying, succeeded, failed, skipped, or any state a newer writer reports. */
  state: string;
  attempt: number;
  sinceMs: number | undefined;
  error: string | undefined;
  /** `output.details[worker]` once the task is finished: summary, files, usage, cost, attempts... */
  detail: Record<string, unknown> | undefined;
  /** The full prompt of its latest attempt, as sent (scrubbed), while `promptRetentionSeconds` keeps it. */
  prompt: string | undefined;
  promptAttempt: number | undefined;
}

export interface TaskDetail {
  taskId: string;
  /** queued, claimed, analyzing, dispatching, publishing, completed, partial, failed, or unknown. */
  state: string;
  /** The task machine's state node to light, when the state maps onto one. */
  machineState: string | undefined;
  description: string | undefined;
  requirements: string[];
  owner: string | undefined;
  status: string | undefined;
  outcome: string | undefined;
  error: string | undefined;
  startedAt: string | undefined;
  completedAt: string | undefined;
  elapsedMs: number | undefined;
  plan: StepView[];
  workers: WorkerPanel[];
  output: Record<string, unknown> | undefined;
  logs: string[];
  /** Cancel applies while it is queued or running. */
  cancellable: boolean;
}

/** Log lines kept on the page: the tail, enough for any real task. */
const LOG_TAIL = 500;
/** How deep into the queue the page looks for a task that is still waiting there. */
const QUEUE_SCAN = 2000;

const parseObject = (text: string | undefined): Record<string, unknown> | undefined => {
  if (text === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
};

const FINAL: Record<string, string> = { completed: 'completed', completed_with_warnings: 'completed', partial: 'partial', failed: 'failed' };
const IN_FLIGHT: Record<string, string> = { claimed: 'received', analyzing: 'analyzing', dispatching: 'dispatching', publishing: 'publishing' };

function stepsOf(plan: Plan | undefined, output: Record<string, unknown> | undefined): StepView[] {
  if (plan) {
    return plan.steps.map((s) => ({ worker: s.worker, dependsOn: [...s.dependsOn], critical: s.critical, instructions: s.instructions }));
  }
  const published = output?.plan as { steps?: { worker: string; depends_on?: string[]; critical?: boolean }[] } | undefined;
  const details = (output?.details ?? {}) as Record<string, { task?: string }>;
  return (published?.steps ?? []).map((s) => ({
    worker: String(s.worker),
    dependsOn: Array.isArray(s.depends_on) ? s.depends_on.map(String) : [],
    critical: s.critical === true,
    instructions: details[s.worker]?.task,
  }));
}

/**
 * Everything the task page shows about one task, read from Redis only: the
 * checkpoint while it is in flight, the producer's results record and log
 * once it is finished (as long as they are kept), the queue while it waits,
 * and the workers' prompts (ours, kept `promptRetentionSeconds`) throughout.
 */
export async function readTaskDetail(redis: Redis, keys: Keys, taskId: string, now = Date.now()): Promise<TaskDetail | undefined> {
  const [result, logs, checkpoint, promptHash] = (await redis
    .multi()
    .hgetall(keys.result(taskId))
    .lrange(keys.resultLogs(taskId), -LOG_TAIL, -1)
    .hgetall(keys.checkpoint(taskId))
    .hgetall(keys.prompts(taskId))
    .exec()
    .then((replies) => (replies ?? []).map(([, v]) => v))) as [Record<string, string>, string[], Record<string, string>, Record<string, string>];

  const output = parseObject(result.output);
  const inFlight = Object.keys(checkpoint).length > 0;
  let raw = checkpoint.raw;
  let queued = false;
  if (!inFlight && !FINAL[result.outcome ?? ''] && result.status !== 'completed' && result.status !== 'failed') {
    raw = (await redis.lrange(keys.pending, -QUEUE_SCAN, -1)).find((text) => {
      const parsed = parseTaskMessage(text);
      return (parsed.ok ? parsed.task.task_id : parsed.taskId) === taskId;
    });
    queued = raw !== undefined;
  }
  if (!inFlight && !queued && Object.keys(result).length === 0 && logs.length === 0) return undefined;

  const parsed = raw !== undefined ? parseTaskMessage(raw) : undefined;
  const task = parsed?.ok ? parsed.task : undefined;
  const live = inFlight && raw !== undefined ? taskView(raw, checkpoint, now) : undefined;
  const plan = stepsOf(parseObject(checkpoint.plan) as Plan | undefined, output);
  const details = (output?.details ?? {}) as Record<string, Record<string, unknown>>;
  // While the task runs its prompts are in the checkpoint (`prompt:{worker}`); the publication stores them apart.
  const running = Object.fromEntries(Object.entries(checkpoint).flatMap(([k, v]) => (k.startsWith('prompt:') ? [[k.slice('prompt:'.length), v]] : [])));
  const prompts = parsePrompts({ ...promptHash, ...running });

  const workers: WorkerPanel[] = plan.map((step) => {
    const w = live?.workers.find((x) => x.worker === step.worker);
    const detail = details[step.worker];
    const finished = typeof detail?.status === 'string' ? detail.status : undefined;
    return {
      worker: step.worker,
      state: finished ?? w?.state ?? 'waiting',
      attempt: typeof detail?.attempts === 'number' ? detail.attempts : (w?.attempt ?? 0),
      sinceMs: finished ? undefined : w?.sinceMs,
      error: typeof detail?.error === 'string' ? detail.error : w?.error,
      detail,
      prompt: prompts[step.worker]?.prompt,
      promptAttempt: prompts[step.worker]?.attempt,
    };
  });

  const finalOutcome = result.outcome ?? (typeof output?.outcome === 'string' ? output.outcome : undefined);
  const state = queued ? 'queued' : live ? live.state : finalOutcome && FINAL[finalOutcome] ? FINAL[finalOutcome]! : (result.status ?? 'unknown');
  const machineState = live ? IN_FLIGHT[live.state] : finalOutcome ? FINAL[finalOutcome] : undefined;
  return {
    taskId,
    state,
    machineState,
    description: task?.payload.description,
    requirements: task?.payload.requirements ?? [],
    owner: checkpoint.owner,
    status: result.status,
    outcome: finalOutcome,
    error: result.error,
    startedAt: result.started_at,
    completedAt: result.completed_at,
    elapsedMs: live?.elapsedMs,
    plan,
    workers,
    output,
    logs,
    cancellable: queued || inFlight,
  };
}
