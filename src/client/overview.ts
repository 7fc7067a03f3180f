import type { Redis } from 'ioredis';
import type { CheckResult } from '../protocol/checks.ts';
import type { Plan } from '../protocol/plan.ts';
import type { Keys } from '../protocol/keys.ts';
import type { WorkerName } from '../protocol/output.ts';
import { parseTaskMessage } from '../protocol/task.ts';
import { taskRefOf } from '../protocol/taskRef.ts';
import type { WorkerProgress } from '../redis/checkpoint.ts';
import type { RecentFailureEntry } from '../redis/results.ts';
import { checksInCheckpoint } from './checks.ts';

export interface InstanceView {
  agentId: string;
  status: string;
  alive: boolean;
  lastHeartbeat: string | undefined;
  model: string | undefined;
  concurrency: string | undefined;
  /** Dollars this instance has spent on model calls (all its tasks, since the domain's spend hash began). */
  spendUsd: number;
}

export type WorkerState = 'waiting' | 'running' | 'waiting_for_model' | 'retrying' | 'succeeded' | 'failed';

/** The domain's shared limits on the model API (src/limits/modelGate.ts), read off Redis. */
export interface ModelApiView {
  breaker: 'closed' | 'open' | 'half_open';
  /** Since when the API has refused (breaker not closed). */
  unavailableSince: number | undefined;
  /** Leases held: model requests in flight over the domain (expired ones included until the next acquire takes them back). */
  callsInFlight: number;
}

export interface WorkerView {
  worker: WorkerName;
  state: WorkerState;
  attempt: number;
  /** Since the current attempt started (running), or since it failed. */
  sinceMs: number | undefined;
  error: string | undefined;
  /** What its model call waits for (state waiting_for_model): model_slot, tokens_per_minute, breaker_open, retry_after, rate_limit. */
  waitingFor?: string;
}

export interface TaskView {
  taskId: string;
  description: string;
  owner: string | undefined;
  /** `claimed`, `analyzing`, `dispatching`, `verifying`, `fixing` or `publishing`, read off the checkpoint. */
  state: string;
  elapsedMs: number | undefined;
  workers: WorkerView[];
  /** Dollars the task has spent so far (its checkpoint's running sum). */
  spendUsd: number;
  /** The latest run of each check (`--verify`) so far: empty before verifying. */
  checks: CheckResult[];
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
  modelApi: ModelApiView;
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

/**
 * A `recentFailures` entry as the views show it. The list holds what
 * publishResult writes (src/redis/results.ts, RecentFailureEntry): `task_id`,
 * as peers spell it; the views read `taskId`, made here and nowhere else.
 */
function failureView(text: string): FailureView | undefined {
  const entry = parse<RecentFailureEntry>(text);
  if (!entry || typeof entry !== 'object') return undefined;
  return { taskId: typeof entry.task_id === 'string' ? entry.task_id : null, outcome: String(entry.outcome ?? ''), error: String(entry.error ?? ''), at: String(entry.at ?? '') };
}

/** Where a task stands, read off its checkpoint (the task actor itself lives in another process). */
export function taskView(raw: Buffer | string, hash: Record<string, string>, now: number): TaskView {
  const parsed = parseTaskMessage(raw.toString());
  const taskId = taskRefOf(raw, parsed).key;
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
        : progress?.status === 'waiting_for_model'
          ? 'waiting_for_model'
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
      ...(state === 'waiting_for_model' && progress?.reason ? { waitingFor: progress.reason } : {}),
    };
  });
  const state =
    Object.keys(hash).length === 0
      ? 'claimed'
      : !plan
        ? 'analyzing'
        : hash.phase === 'verifying'
          ? 'verifying'
          : hash.phase === 'fixing' && workers.some((w) => w.state !== 'succeeded' && w.state !== 'failed')
            ? 'fixing'
            : workers.every((w) => w.state === 'succeeded')
              ? 'publishing'
              : 'dispatching';
  return {
    taskId,
    description,
    owner: hash.owner,
    state,
    elapsedMs: claimedAt ? Math.max(0, now - claimedAt) : undefined,
    workers,
    spendUsd: Number(hash.spend_usd ?? 0) || 0,
    checks: checksInCheckpoint(hash),
  };
}

/** Everything `watch` shows, read from Redis: works across any number of instances. */
export async function readOverview(redis: Redis, keys: Keys, domain: string, now = Date.now()): Promise<Overview> {
  const [pending, active, ids, failures, spend, breaker, callsInFlight] = await Promise.all([
    redis.llen(keys.pending),
    redis.lrangeBuffer(keys.active, 0, 99),
    redis.smembers(keys.agentsOfDomain),
    redis.lrange(keys.recentFailures, 0, 9),
    redis.hgetall(keys.spend),
    redis.hmget(keys.modelBreaker, 'state', 'since'),
    redis.zcard(keys.modelLeases),
  ]);
  const p = redis.pipeline();
  for (const raw of active) {
    const parsed = parseTaskMessage(raw.toString('utf8'));
    p.hgetall(keys.checkpoint(taskRefOf(raw, parsed).key));
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
      spendUsd: Number(spend[agentId] ?? 0) || 0,
    };
  });
  return {
    domain,
    pending,
    instances,
    tasks,
    failures: failures.map(failureView).filter((f): f is FailureView => f !== undefined),
    modelApi: {
      breaker: breaker[0] === 'open' || breaker[0] === 'half_open' ? breaker[0] : 'closed',
      unavailableSince: breaker[0] === 'open' || breaker[0] === 'half_open' ? Number(breaker[1]) || undefined : undefined,
      callsInFlight,
    },
    at: now,
  };
}

