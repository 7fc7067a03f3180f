import { pino, type Logger } from 'pino';
import { createActor, toPromise } from 'xstate';
import type { AgentRunInput } from '../../machines/worker.machine.ts';
import type { Plan } from '../../src/protocol/plan.ts';
import type { Keys } from '../../src/protocol/keys.ts';
import type { WorkerResult } from '../../src/protocol/output.ts';
import type { TaskMessage } from '../../src/protocol/task.ts';
import { connectRedis } from '../../src/redis/connection.ts';
import { createProgressWriter, DEFAULT_PROGRESS_FLUSH_MS } from '../../src/redis/progress.ts';
import { TaskPrompts } from '../../src/redis/prompts.ts';
import { TaskTraces } from '../../src/observability/tracing.ts';
import { DEFAULT_PROMPT_RETENTION_SECONDS } from '../../src/optionDefaults.ts';
import type { RuntimeDeps } from '../../src/runtime/actors/deps.ts';
import { createRuntimeMachine } from '../../src/runtime/runtimeMachine.ts';

export interface TestListenerOptions {
  redisUrl: string;
  domain: string;
  keys: Keys;
  plan: (task: TaskMessage) => Promise<Plan> | Plan;
  runAgent: (input: AgentRunInput, signal: AbortSignal) => Promise<WorkerResult>;
  concurrency?: number;
  resultGraceMs?: number;
  heartbeatIntervalMs?: number;
  agentId?: string;
  recoveryIntervalMs?: number;
  orphanGraceMs?: number;
  shutdownGraceMs?: number;
  maxTakeovers?: number;
  /** Where the listener logs (silent unless given). */
  logger?: Logger;
  beforePublish?: RuntimeDeps['beforePublish'];
}

/** The real listener on real Redis, with the planner and workers swapped for stubs. */
export function startTestListener(o: TestListenerOptions) {
  const redis = connectRedis(o.redisUrl, 'test-commands');
  const blocking = connectRedis(o.redisUrl, 'test-claims');
  const agentId = o.agentId ?? `${o.domain}-agent`;
  const logger = o.logger ?? pino({ level: 'silent' });
  const deps: RuntimeDeps = {
    redis,
    blocking,
    keys: o.keys,
    agentId,
    domain: o.domain,
    logger,
    claimTimeoutSeconds: 0.1,
    resultGraceMs: o.resultGraceMs ?? 1000,
    heartbeatIntervalMs: o.heartbeatIntervalMs ?? 10_000,
    deadLetterLimit: 100,
    recoveryIntervalMs: o.recoveryIntervalMs ?? 200,
    orphanGraceMs: o.orphanGraceMs ?? 500,
    plan: async (task) => o.plan(task),
    runAgent: o.runAgent,
    progress: createProgressWriter({ redis, keys: o.keys, flushMs: DEFAULT_PROGRESS_FLUSH_MS, requireFence: true, onError: () => undefined }),
    prompts: new TaskPrompts(),
    promptRetentionSeconds: DEFAULT_PROMPT_RETENTION_SECONDS,
    traces: new TaskTraces(),
    ...(o.beforePublish ? { beforePublish: o.beforePublish } : {}),
  };
  const actor = createActor(createRuntimeMachine(deps), {
    input: {
      concurrency: o.concurrency ?? 4,
      shutdownGraceMs: o.shutdownGraceMs ?? 5000,
      taskDefaults: { workspaceRoot: '/tmp/orch-test', workerAttempts: 1, workerBackoffMs: 1, maxTakeovers: o.maxTakeovers ?? 3 },
    },
  });
  const errors: unknown[] = [];
  actor.subscribe({ error: (e) => errors.push(e) });
  actor.start();
  let stopped: Promise<void> | undefined;
  return {
    actor,
    agentId,
    errors,
    stop: () =>
      (stopped ??= (async () => {
        actor.send({ type: 'STOP' });
        await toPromise(actor);
        await Promise.all([redis.quit(), blocking.quit()]);
      })()),
  };
}
