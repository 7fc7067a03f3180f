import type { Redis } from 'ioredis';
import type { Plan } from '../planning/plan.ts';
import type { Keys } from '../protocol/keys.ts';
import type { WorkerName } from '../protocol/output.ts';
import { parseTaskMessage } from '../protocol/task.ts';
import { claimKeyOf, type WorkerProgress } from '../redis/checkpoint.ts';

export interface InstanceView {
  agentId: string;
  status: string;
  alive: boolean;
  lastHeartbeat: string | undefined;
  model: string | undefined;
  concurrency: string | undefined;
}

export type WorkerState = 'waiting' | 'running' | 'retrying' | 'succeeded' | 'failed';

export interface WorkerView {
  worker: WorkerName;
  state: WorkerState;
  attempt: number;
  /** Since the current attempt started (running), or since it failed. */
  sinceMs: number | undefined;
  error: string | undefined;
}

export interface TaskView {
  taskId: string;
  description: string;
  owner: string | undefined;
  /** `claimed`, `analyzing`, `dispatching` or `publishing`, read off the checkpoint. */
  state: string;
  elapsedMs: number | undefined;
  workers: WorkerView[];
}

export interface FailureView {
  taskId: string | null;
  outcome: string;
  error: string;
  at: string;
}

export interface Overview {
  domain: string;
  pending: number;
  instances: InstanceView[];
  tasks: TaskView[];
  failures: FailureView[];
  at: number;
}

const parse = <T>(text: string | undefined): T | undefined => {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
};

/** Where a task stands, read off its checkpoint (the task actor itself lives in another process). */
export function taskView(raw: Buffer | string, hash: Record<string, string>, now: number): TaskView {
  const parsed = parseTaskMessage(raw.toString());
  const taskId = parsed.ok ? parsed.task.task_id : (parsed.taskId ?? claimKeyOf(raw, parsed));
  const description = parsed.ok ? parsed.task.payload.description : `(rejected: ${parsed.reason.slice(0, 60)})`;
  const plan = parse<Plan>(hash.plan);
  const claimedAt = Number(hash.first_claimed_at) || undefined;
  const workers: WorkerView[] = (plan?.steps ?? []).map((step) => {
    const progress = parse<WorkerProgress>(hash[`worker:${step.worker}`]);
    const done = hash[`result:${step.worker}`] !== undefined;
    const state: WorkerState = done
      ? 'succeeded'
      : progress?.status === 'running'
        ? 'running'
        : progress?.status === 'failed'
          ? 'retrying'
          : 'waiting';
    return {
      worker: step.worker,
      state,
      attempt: progress?.attempt ?? 0,
      // Another instance's clock, or a read that began just before the write: never show negative time.
      sinceMs: progress && !done ? Math.max(0, now - progress.at) : undefined,
      error: progress?.status === 'failed' ? progress.error : undefined,
    };
  });
  const state =
    Object.keys(hash).length === 0
      ? 'claimed'
      : !plan
        ? 'analyzing'
        : workers.every((w) => w.state === 'succeeded')
          ? 'publishing'
          : 'dispatching';
  return { taskId, description, owner: hash.owner, state, elapsedMs: claimedAt ? Math.max(0, now - claimedAt) : undefined, workers };
}

/** Everything `watch` shows, read from Redis: works across any number of instances. */
export async function readOverview(redis: Redis, keys: Keys, domain: string, now = Date.now()): Promise<Overview> {
  const [pending, active, ids, failures] = await Promise.all([
    redis.llen(keys.pending),
    redis.lrangeBuffer(keys.active, 0, 99),
    redis.smembers(keys.agentsOfDomain),
    redis.lrange(keys.recentFailures, 0, 9),
  ]);
  const p = redis.pipeline();
  for (const raw of active) {
    const parsed = parseTaskMessage(raw.toString('utf8'));
    p.hgetall(keys.checkpoint(claimKeyOf(raw, parsed)));
  }
  for (const id of ids) p.hgetall(keys.agentInfo(id)).exists(keys.agentHeartbeat(id));
  const replies = ((await p.exec()) ?? []).map(([, v]) => v);
  const tasks = active.map((raw, i) => taskView(raw, (replies[i] as Record<string, string> | null) ?? {}, now));
  const instances = ids.sort().map((agentId, i): InstanceView => {
    const info = (replies[active.length + 2 * i] as Record<string, string> | null) ?? {};
    return {
      agentId,
      status: info.status ?? '?',
      alive: replies[active.length + 2 * i + 1] === 1,
      lastHeartbeat: info.last_heartbeat,
      model: info.model,
      concurrency: info.concurrency,
    };
  });
  return {
    domain,
    pending,
    instances,
    tasks,
    failures: failures.map((f) => parse<FailureView>(f)).filter((f): f is FailureView => f !== undefined),
    at: now,
  };
}

