import type { Redis } from 'ioredis';
import { createActor, type Actor, type InspectionEvent } from 'xstate';
import type { ListenerEmitted } from '../../../machines/listener.machine.ts';
import type { Config } from '../../config.ts';
import type { SpendLedger } from '../../limits/ledger.ts';
import type { Logger } from '../../logger.ts';
import type { ModelClient } from '../../models/types.ts';
import type { Metrics } from '../../observability/metrics.ts';
import type { TaskTraces } from '../../observability/tracing.ts';
import type { TaskWorkspaces } from '../../project/taskWorkspaces.ts';
import type { FinalResult } from '../../protocol/claim.ts';
import type { Keys } from '../../protocol/keys.ts';
import type { ProgressWriter } from '../../redis/progress.ts';
import type { TaskPrompts } from '../../redis/prompts.ts';
import { markStandIn } from '../../results/standIn.ts';
import { combineInspect, observeActorMetrics } from '../actorMetrics.ts';
import { recordTaskStates } from '../stateHistory.ts';
import type { RuntimeDeps } from '../actors/deps.ts';
import { createRuntimeMachine } from '../runtimeMachine.ts';
import type { ResourceStack } from '../resources.ts';
import type { Worker } from './worker.ts';

export type ListenerActor = Actor<ReturnType<typeof createRuntimeMachine>>;

export interface ListenerDeps {
  redis: Redis;
  blocking: Redis;
  keys: Keys;
  logger: Logger;
  self: { host: string; pid: number };
  model: ModelClient;
  progress: ProgressWriter;
  prompts: TaskPrompts;
  plan: RuntimeDeps['plan'];
  worker: Worker;
  workspaces: TaskWorkspaces | undefined;
  ledger: SpendLedger;
  traces: TaskTraces;
  metrics: Metrics | undefined;
  /** Stately Inspector (or any inspection observer) for every actor. */
  inspect: ((event: InspectionEvent) => void) | undefined;
}

/**
 * The listener actor, created and not started (startListener does that, last):
 * its machine on the deps, its events logged and counted. `done` resolves when
 * it has stopped (after STOP, or a fatal error).
 */
export function createListener(config: Config, deps: ListenerDeps): { actor: ListenerActor; done: Promise<void> } {
  const { logger, metrics, workspaces, ledger } = deps;
  const machine = createRuntimeMachine({
    redis: deps.redis,
    blocking: deps.blocking,
    keys: deps.keys,
    agentId: config.agentId,
    domain: config.domain,
    logger,
    claimTimeoutSeconds: config.claimTimeoutSeconds,
    resultGraceMs: config.resultGraceMs,
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    deadLetterLimit: config.deadLetterLimit,
    recoveryIntervalMs: config.recoveryIntervalMs,
    orphanGraceMs: config.orphanGraceMs,
    registryInfo: { model: deps.model.kind, concurrency: String(config.concurrency), pid: String(deps.self.pid), host: deps.self.host },
    progress: deps.progress,
    prompts: deps.prompts,
    promptRetentionSeconds: config.promptRetentionSeconds,
    plan: deps.plan,
    ...deps.worker,
    ...beforePublish(workspaces, deps.model),
    onClaimed: (claim) => ledger.start(claim.ref, claim.resume?.spentUsd ?? 0),
    onTaskDone: (task) => ledger.forget(task),
    traces: deps.traces,
  });

  // Each task's state history goes to its progress log from the inspection
  // stream (always on: one function call per microstep); metrics read the
  // actors' snapshots the same way, attached only when asked for.
  const observers = [recordTaskStates(deps.progress), ...(metrics ? [observeActorMetrics(metrics)] : []), ...(deps.inspect ? [deps.inspect] : [])];
  const actor = createActor(machine, {
    input: {
      concurrency: config.concurrency,
      shutdownGraceMs: config.shutdownGraceMs,
      taskDefaults: {
        maxTakeovers: config.maxTakeovers,
        workspaceRoot: config.workspace,
        workerAttempts: config.workerAttempts,
        workerBackoffMs: config.workerBackoffMs,
        verify: config.verify,
        fixRounds: config.fixRounds,
        allowTaskChecks: config.allowTaskChecks,
      },
    },
    inspect: combineInspect(...observers),
  });
  if (metrics) {
    actor.on('taskStarted', () => metrics.taskStarted());
    actor.on('taskFinished', (e) => metrics.taskFinished(e.output.outcome, e.output.timings?.duration_ms));
    actor.on('taskCrashed', () => metrics.taskFinished('crashed'));
    actor.on('handedOff', (e) => e.tasks.forEach(() => metrics.taskFinished('handed_off')));
  }

  actor.on('taskFinished', (e: Extract<ListenerEmitted, { type: 'taskFinished' }>) =>
    logger.info({ task_id: e.output.task_id, outcome: e.output.outcome }, 'task finished'),
  );
  actor.on('taskCrashed', (e: Extract<ListenerEmitted, { type: 'taskCrashed' }>) =>
    logger.error({ err: e.error, actor: e.actorId }, 'task actor crashed; its message stays in the active list'),
  );
  actor.on('claimFailed', (e: Extract<ListenerEmitted, { type: 'claimFailed' }>) =>
    logger.warn({ err: e.error }, 'claim failed; retrying'),
  );

  const done = new Promise<void>((resolve) => {
    actor.subscribe({
      complete: () => resolve(),
      // A root actor that errors with no error observer throws out of the process.
      error: (error) => {
        logger.fatal({ err: error }, 'listener actor failed');
        resolve();
      },
    });
  });
  return { actor, done };
}

/**
 * What runs before each publication: the project merge (with a project),
 * and with the offline stand-in the mark that says so on every result.
 */
function beforePublish(workspaces: TaskWorkspaces | undefined, model: ModelClient): Pick<RuntimeDeps, 'beforePublish'> {
  const standIn = model.kind === 'scripted';
  if (!workspaces && !standIn) return {};
  return {
    beforePublish: async (claimed: FinalResult) => {
      const result = workspaces ? await workspaces.finish(claimed) : claimed;
      return standIn ? { ...result, output: markStandIn(result.output) } : result;
    },
  };
}

/**
 * Starts claiming, once everything else is open: a start that fails has
 * claimed nothing. Closed first: STOP lets the tasks in flight finish (or
 * hands them off) before anything they use is closed; dropped, it stops now.
 */
export function startListener(actor: ListenerActor, done: Promise<void>, stack: ResourceStack): void {
  stack.add({
    name: 'listener',
    close: async () => {
      actor.send({ type: 'STOP' });
      await done;
    },
    drop: () => {
      actor.stop();
    },
  });
  actor.start();
}
