import type { Redis } from 'ioredis';
import type { AnyStateNode } from 'xstate';
import { taskMachine } from '../../machines/task.machine.ts';
import { checksInCheckpoint, checksOf } from '../client/checks.ts';
import { taskView } from '../client/overview.ts';
import { statePath, type StateStep } from '../diagrams/statePath.ts';
import { edgeLabel } from '../diagrams/transitionLabel.ts';
import type { CheckResult } from '../protocol/checks.ts';
import type { Plan } from '../protocol/plan.ts';
import type { Keys } from '../protocol/keys.ts';
import type { WorkerResult } from '../protocol/output.ts';
import { parseTaskMessage } from '../protocol/task.ts';
import { parsePrompts } from '../redis/prompts.ts';
import { readIndexed } from '../redis/taskIndex.ts';

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
  /** waiting, running, retrying, succeeded, failed, skipped, cancelled (stopped by a cancel), or any state a newer writer reports. */
  state: string;
  attempt: number;
  sinceMs: number | undefined;
  error: string | undefined;
  /** `output.details[worker]` once the task is finished, or the result its checkpoint holds as soon as the worker is done: summary, files, usage, cost, attempts... */
  detail: Record<string, unknown> | undefined;
  /** The full prompt of its latest attempt, as sent (scrubbed), while `promptRetentionSeconds` keeps it. */
  prompt: string | undefined;
  promptAttempt: number | undefined;
}

export interface TaskDetail {
  taskId: string;
  /** queued, claimed, analyzing, dispatching, verifying, fixing, publishing, completed, completed_with_warnings, partial, failed, cancelled, or unknown. */
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
  /** A cancel reached it: asked for while it runs, or it ended cancelled. */
  cancelled: boolean;
  /** The transitions the task machine took, from its progress log, ending in its final state once published. */
  path: StateStep[];
  /** Its checks (`--verify`): the latest run of each from the checkpoint while it runs, `output.checks` once published. */
  checks: CheckResult[];
}

/** Log lines kept on the page: the tail, enough for any real task. */
const LOG_TAIL = 500;
/** Lines from the start of a longer log read for the state history (its first transitions come early). */
const LOG_HEAD = 200;
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
/** States the checkpoint cannot tell apart from publishing or dispatching: the progress log's last transition names them. */
const CHECK_STATES = new Set(['verifying', 'fixing']);
/** The task machine's top-level states, to light a final outcome's own node when the machine has one. */
const MACHINE_STATES = new Set(Object.keys((taskMachine.root as AnyStateNode).states));

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
  const [result, logs, checkpoint, promptHash, logLength, head] = (await redis
    .multi()
    .hgetall(keys.result(taskId))
    .lrange(keys.resultLogs(taskId), -LOG_TAIL, -1)
    .hgetall(keys.checkpoint(taskId))
    .hgetall(keys.prompts(taskId))
    .llen(keys.resultLogs(taskId))
    .lrange(keys.resultLogs(taskId), 0, LOG_HEAD - 1)
    .exec()
    .then((replies) => (replies ?? []).map(([, v]) => v))) as [Record<string, string>, string[], Record<string, string>, Record<string, string>, number, string[]];
  // The head lines the tail does not hold: the log's first transitions.
  const headOnly = head.slice(0, Math.max(0, Math.min(head.length, logLength - logs.length)));

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
  // Once published the message is gone with the checkpoint: the tasks index keeps its description.
  const [indexed] = task === undefined ? await readIndexed(redis, keys, [taskId]) : [undefined];
  const live = inFlight && raw !== undefined ? taskView(raw, checkpoint, now) : undefined;
  const plan = stepsOf(parseObject(checkpoint.plan) as Plan | undefined, output);
  const details = (output?.details ?? {}) as Record<string, Record<string, unknown>>;
  // While the task runs its prompts are in the checkpoint (`prompt:{worker}`); the publication stores them apart.
  const running = Object.fromEntries(Object.entries(checkpoint).flatMap(([k, v]) => (k.startsWith('prompt:') ? [[k.slice('prompt:'.length), v]] : [])));
  const prompts = parsePrompts({ ...promptHash, ...running });

  const path = statePath([...headOnly, ...logs]);
  const cancelReason = checkpoint.cancel;
  const cancelled =
    cancelReason !== undefined ||
    indexed?.state === 'cancelled' ||
    path.some((s) => s.label.startsWith('CANCEL') || s.label.includes('[cancelledWhileHeld]'));
  const workers: WorkerPanel[] = plan.map((step) => {
    const w = live?.workers.find((x) => x.worker === step.worker);
    // A worker done while the task runs: its checkpointed result, shown at once (the publication carries the same).
    const saved = parseObject(checkpoint[`result:${step.worker}`]) as WorkerResult | undefined;
    const detail = details[step.worker] ?? (saved ? savedDetail(saved) : undefined);
    let finished = typeof detail?.status === 'string' ? detail.status : undefined;
    // Stopped by the cancel, not broken: its error is the task's (the cancel's reason).
    if (cancelled && finished === 'failed' && (detail?.error === result.error || detail?.error === cancelReason)) finished = 'cancelled';
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
  const lastTo = path.at(-1)?.to;
  const checking = live && lastTo !== undefined && CHECK_STATES.has(lastTo) ? lastTo : undefined;
  // The outcome as it is: completed_with_warnings is not shown as completed (its checks may still fail).
  const state = queued ? 'queued' : live ? (checking ?? live.state) : finalOutcome && FINAL[finalOutcome] ? finalOutcome : (result.status ?? 'unknown');
  const machineState = live
    ? (checking ?? IN_FLIGHT[live.state])
    : finalOutcome
      ? MACHINE_STATES.has(finalOutcome)
        ? finalOutcome
        : FINAL[finalOutcome]
      : undefined;
  // Published: the last transition (publishing → its final state) happens after the log's last line.
  const last = path.at(-1);
  if (!live && machineState && last?.to === 'publishing') path.push({ from: 'publishing', to: machineState, label: publishedLabel(machineState), at: result.completed_at });
  return {
    taskId,
    state: cancelled && state === 'failed' ? 'cancelled' : state,
    machineState,
    description: task?.payload.description ?? indexed?.description,
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
    cancelled,
    path,
    checks: output && Array.isArray(output.checks) ? checksOf(output.checks) : checksInCheckpoint(checkpoint),
  };
}

/** A checkpointed WorkerResult in the shape of `output.details[worker]`, which the page shows. */
function savedDetail(r: WorkerResult): Record<string, unknown> {
  return {
    status: 'succeeded',
    summary: r.summary,
    files_created: r.files_created,
    files_modified: r.files_modified,
    ...(r.issues.length ? { issues: r.issues } : {}),
    usage: r.usage,
    ...(r.cost_usd !== undefined ? { cost_usd: r.cost_usd } : {}),
    ...(r.commit !== undefined ? { commit: r.commit } : {}),
    ...(r.report !== undefined ? { report: r.report } : {}),
  };
}

/** The label of the publisher's done edge into a final state, as the statechart draws it. */
function publishedLabel(final: string): string {
  const publishing = (taskMachine.root as AnyStateNode).states.publishing as AnyStateNode;
  for (const group of publishing.transitions.values()) {
    for (const t of group) if (t.target?.some((n) => n.key === final)) return edgeLabel(publishing, t);
  }
  return 'done(publisher)';
}
