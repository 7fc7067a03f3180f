import type { InspectionEvent } from 'xstate';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { HealthServer } from '../observability/httpServer.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { BoxEngine } from '../project/openProject.ts';
import { keysFor } from '../protocol/keys.ts';
import type { OutageLogOptions } from '../redis/connection.ts';
import { TaskPrompts } from '../redis/prompts.ts';
import { logProcessLimit } from '../workers/sandbox/choose.ts';
import { loadPricedAgents } from './parts/agents.ts';
import { openControl } from './parts/control.ts';
import { startEgress } from './parts/egress.ts';
import { createListenerMetrics, startHealth } from './parts/health.ts';
import { openLedger } from './parts/ledger.ts';
import { createListener, startListener, type ListenerActor } from './parts/listener.ts';
import { buildModel, openModelGate, type ModelOptions } from './parts/model.ts';
import { createPlanner } from './parts/planner.ts';
import { openProject } from './parts/project.ts';
import { checkAgentId, openProgress, redisConnections } from './parts/redis.ts';
import { chooseListenerSandbox } from './parts/sandbox.ts';
import { startSweeper } from './parts/sweeper.ts';
import { createWorker } from './parts/worker.ts';
import { ResourceStack } from './resources.ts';
import { boundedStop, type StopResult } from './stop.ts';

export type { StopResult };

export interface OrchestratorOptions extends ModelOptions {
  logger: Logger;
  /** Stately Inspector (or any inspection observer) for every actor. */
  inspect?: (event: InspectionEvent) => void;
  /** How Redis outages are logged (tests shorten the interval or inject a clock). */
  outageLog?: OutageLogOptions;
  /** The task box engine of `--isolation box` (default: src/workers/box's; tests hand a directory-backed one). */
  boxEngine?: BoxEngine;
}

export interface Orchestrator {
  readonly actor: ListenerActor;
  /** Resolves when the listener has stopped (after stop(), or a fatal error). */
  readonly done: Promise<void>;
  /** The /metrics and /healthz server, when `metricsPort` is set. */
  readonly http: HealthServer | undefined;
  readonly metrics: Metrics | undefined;
  /**
   * Stops claiming, lets tasks in flight finish, deregisters, closes Redis.
   * Bounded: past `shutdownGraceMs` + the claim timeout + `shutdownMarginMs`
   * it gives up, leaves the checkpoints as they are and resolves `clean: false`.
   * Safe to call twice.
   */
  stop(): Promise<StopResult>;
  /** Cuts a stop short now (an operator's second signal), as the deadline would. */
  abandon(reason: string): void;
}

/**
 * Starts a queue listener from a validated Config, part by part, each on one
 * resource stack (./resources.ts) that a stop closes last part first, and a
 * failed start drops before its error is thrown. The order is the order of
 * the checks: prices and the sandbox before anything connects, the agent id
 * before anything uses it, the project before the other connections.
 */
export async function startOrchestrator(config: Config, options: OrchestratorOptions): Promise<Orchestrator> {
  const { logger } = options;
  const stack = new ResourceStack(({ resource, error }) => logger.warn({ err: error, resource }, `could not close the ${resource}`));
  return stack.build(async () => {
    const { agents, resolveModel, prices } = await loadPricedAgents(config, logger);
    const sandbox = await chooseListenerSandbox(config, logger);
    const keys = keysFor(config.domain);
    const connections = redisConnections(config, stack, logger, options.outageLog);
    const redis = connections.open('commands', { autoPipelining: true });
    const self = await checkAgentId(config, redis, keys);
    const progress = openProgress(config, { redis, keys, logger }, stack);
    // The egress proxy before the project: a task's box is given its socket.
    const egress = await startEgress(config, { sandbox, logger }, stack);
    const workspaces = await openProject(config, { redis, keys, logger, progress, sandbox, egress, boxEngine: options.boxEngine }, stack);
    logProcessLimit(logger, sandbox);
    const { model, traces } = buildModel(config, options, stack);
    const blocking = connections.open('claims');
    const metrics = createListenerMetrics(config, { redis, keys, logger });
    const guard = await openModelGate(config, options, { connections, redis, keys, prices, metrics, logger }, stack);
    const prompts = new TaskPrompts();
    const ledger = openLedger(config, { redis, keys, logger }, stack);
    const plan = createPlanner(config, { model, guard, metrics, resolveModel, workspaces });
    const worker = createWorker(config, { logger, agents, resolveModel, sandbox, egress, workspaces, model, modelGiven: options.model !== undefined, guard, ledger, metrics, progress, prompts });
    startSweeper(workspaces, logger, stack);
    const deps = { redis, blocking, keys, logger, self, model, progress, prompts, plan, worker, workspaces, ledger, traces, metrics, inspect: options.inspect };
    const { actor, done } = createListener(config, deps);
    await openControl(config, { connections, actor, keys, logger }, stack);
    const http = await startHealth(config, { metrics, redis, actor, logger }, stack);
    startListener(actor, done, stack);
    logger.info(
      {
        agent_id: config.agentId,
        domain: config.domain,
        concurrency: config.concurrency,
        model: model.kind,
        planner: config.planner,
        workspace: config.workspace,
        ...(workspaces ? { project: config.project, isolation: workspaces.isolation } : {}),
      },
      'listening',
    );
    return { actor, done, http, metrics, ...boundedStop(config, { logger, actor, stack }) };
  });
}
