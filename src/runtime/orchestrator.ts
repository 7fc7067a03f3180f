import { appendFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { createActor, type Actor, type InspectionEvent } from 'xstate';
import type { AgentRunInput } from '../../machines/worker.machine.ts';
import type { ListenerEmitted } from '../../machines/listener.machine.ts';
import { scriptedLatency, type Config } from '../config.ts';
import { ConfigError } from '../errors.ts';
import { addLoggerSecrets, type Logger } from '../logger.ts';
import { guardModel, type ModelGuard } from '../limits/guardedModel.ts';
import { createSpendLedger } from '../limits/ledger.ts';
import { createModelGate, type ModelGate } from '../limits/modelGate.ts';
import { DEFAULT_PRICES, priceOf, type PriceTable } from '../limits/prices.ts';
import { createAnthropicModel } from '../models/anthropic.ts';
import { resolveModelId } from '../models/aliases.ts';
import { createScriptedModel } from '../models/scripted.ts';
import { TaskTraces, traceModel } from '../observability/tracing.ts';
import type { ModelClient } from '../models/types.ts';
import type { FinalResult } from '../protocol/claim.ts';
import { createLlmPlanner } from '../planning/llmPlanner.ts';
import { planTask } from '../planning/planTask.ts';
import { keysFor } from '../protocol/keys.ts';
import { hasId, logFields } from '../protocol/taskRef.ts';
import { combineInspect, observeActorMetrics } from './actorMetrics.ts';
import { startHealthServer, type HealthServer } from '../observability/httpServer.ts';
import { createMetrics, type Metrics } from '../observability/metrics.ts';
import { ControlMessageSchema } from '../protocol/control.ts';
import { connectRedis, logRedisOutages, type OutageLogOptions } from '../redis/connection.ts';
import { checkAgentIdFree } from '../redis/registry.ts';
import { createProgressWriter } from '../redis/progress.ts';
import { TaskPrompts } from '../redis/prompts.ts';
import { loadAgents } from '../workers/agentFile.ts';
import { createWorkerRunner } from '../workers/runWorker.ts';
import { grantBoxSocket, openToBox } from '../workers/sandbox/boxUser.ts';
import { chooseSandbox, logProcessLimit } from '../workers/sandbox/choose.ts';
import { startEgressProxy } from '../workers/sandbox/egressProxy.ts';
import { sandboxEnv } from '../workers/tools/index.ts';
import { createScrubber, ownSecrets } from '../secrets.ts';
import { createRuntimeMachine } from './listener.ts';
import { createWorkerStep } from './workerStep.ts';
import { openTaskWorkspaces } from '../project/openProject.ts';

export interface OrchestratorOptions {
  logger: Logger;
  /** Stately Inspector (or any inspection observer) for every actor. */
  inspect?: (event: InspectionEvent) => void;
  /** Replaces the model built from the config (benchmarks, tests). */
  model?: ModelClient;
  /** Called for each invocation of the model per caller (the crash suite counts them). */
  onModelCall?: (caller: string) => void;
  /** How Redis outages are logged (tests shorten the interval or inject a clock). */
  outageLog?: OutageLogOptions;
}

export interface Orchestrator {
  readonly actor: Actor<ReturnType<typeof createRuntimeMachine>>;
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

export type StopResult = { clean: true } | { clean: false; reason: string };

/** The real API goes through the shared gate always; the scripted stand-in only when limits are asked for. */
const gated = (config: Config, options: OrchestratorOptions): boolean =>
  (config.model === 'anthropic' && !options.model) || config.maxModelCalls !== undefined || config.tokensPerMinute !== undefined;

function buildModel(config: Config, options: OrchestratorOptions): ModelClient {
  if (options.model) return options.model;
  if (config.model === 'anthropic') {
    return createAnthropicModel({
      apiKey: config.anthropic.apiKey!,
      ...(config.anthropic.baseURL ? { baseURL: config.anthropic.baseURL } : {}),
      // The gate retries, each retry through a slot, and every 429/529 reaches the shared breaker.
      maxRetries: 0,
      timeoutMs: config.anthropic.requestTimeoutMs,
    });
  }
  return createScriptedModel({
    latencyMs: (caller) => scriptedLatency(config, caller),
    fail: new Set(config.scripted.fail),
    ...(options.onModelCall ? { onCall: options.onModelCall } : {}),
  });
}

/**
 * Starts a queue listener from a validated Config: loads and checks the agent
 * files (a bad one stops start-up here), builds the model, the planner and
 * the worker runner, connects Redis and starts the listener actor.
 */
export async function startOrchestrator(config: Config, options: OrchestratorOptions): Promise<Orchestrator> {
  const { logger } = options;
  const agents = await loadAgents(config.agents);
  const resolveModel = (alias: string): string => resolveModelId(alias, config.anthropic.models);
  // Checked before anything is started or connected: every model id the agents and the planner use needs a price, or spend could not be counted.
  const prices: PriceTable = { ...DEFAULT_PRICES, ...config.prices };
  for (const id of new Set([...[...agents.values()].map((a) => resolveModel(a.model)), resolveModel(config.anthropic.plannerModel)])) {
    priceOf(id, prices);
  }
  await mkdir(config.workspace, { recursive: true });
  // Before anything connects: no working sandbox stops the anthropic model here.
  const sandbox = await chooseSandbox({
    model: config.model,
    unsafeNoSandbox: config.unsafeNoSandbox,
    logger,
    processLimitChoice: config.boxProcessLimit,
    boxUser: { uid: config.boxUid, gid: config.boxGid ?? config.boxUid },
    workspace: config.workspace,
    ...(config.project === undefined ? {} : { project: config.project }),
  });
  const keys = keysFor(config.domain);
  const redis = connectRedis(config.redisUrl, `${config.agentId}:commands`, { autoPipelining: true });
  const self = { host: hostname(), pid: process.pid };
  // Before anything else uses the id: a second process under it would take the first one's tasks over.
  await checkAgentIdFree({ redis, keys, agentId: config.agentId }, self).catch((error: unknown) => {
    redis.disconnect();
    throw error;
  });
  const progress = createProgressWriter({
    redis,
    keys,
    flushMs: config.progressFlushMs,
    requireFence: true,
    onError: (err, task) => logger.warn({ err, ...logFields(task) }, 'could not record progress'),
  });
  // Before anything else connects: a project that cannot be used stops start-up here, with its reason.
  const workspaces = await openTaskWorkspaces(config, { redis, keys, logger, progress, ...(sandbox.boxUser ? { openToBox: (dir: string) => openToBox(sandbox, dir) } : {}) }).catch((error: unknown) => {
    redis.disconnect();
    throw error;
  });
  if (workspaces && workspaces.secrets.length > 0) {
    addLoggerSecrets(logger, workspaces.secrets);
    logger.info({ count: workspaces.secrets.length }, "credentials in the project's git config (remote URLs, insteadOf, extraHeader) are redacted from logs and results");
  }
  if (sandbox.boxUser !== undefined && workspaces?.isolation === 'none') {
    redis.disconnect();
    throw new ConfigError(
      `--isolation none: the Bash box runs as uid ${sandbox.boxUser.uid} (the listener is root without a writable pids cgroup), which would need ACLs on your project folder itself. ` +
        'Use --isolation worktree (a git project), give the listener a writable pids cgroup, or run it as an ordinary user',
    );
  }
  // No network inside the sandbox; the allowed hosts are reached through this proxy only.
  const egress =
    config.allowDomains.length > 0 && sandbox.kind === 'bwrap'
      ? await startEgressProxy(config.allowDomains, { onDenied: (why) => logger.warn({ why }, 'egress refused') })
      : undefined;
  if (egress && sandbox.boxUser !== undefined) {
    await grantBoxSocket(egress.socketPath, sandbox.boxUser).catch(async (error: unknown) => {
      await egress.close();
      redis.disconnect();
      throw error;
    });
  }
  if (egress) logger.info({ allow: config.allowDomains }, 'Bash may reach these hosts through the egress proxy');
  else if (config.allowDomains.length > 0) logger.warn('--allow-domain has no effect without the sandbox: Bash reaches the whole network');
  logProcessLimit(logger, sandbox);
  const model = traceModel(buildModel(config, options));
  const traces = new TaskTraces();
  const runner = createWorkerRunner({
    agents,
    model,
    resolveModel,
    maxTurns: config.maxTurns,
    maxTokens: config.maxTokens,
    tokenBudget: config.workerTokenBudget,
    bash: {
      timeoutMs: config.bashTimeoutMs,
      maxOutputBytes: config.bashMaxOutputBytes,
      env: sandboxEnv(process.env),
      sandbox,
      limits: {
        processes: config.bashMaxProcesses,
        fileSizeBytes: config.bashMaxFileBytes,
        cpuSeconds: config.bashCpuSeconds,
        memoryBytes: config.bashMaxMemoryBytes,
        tmpBytes: config.bashTmpBytes,
      },
      searchTimeoutMs: config.searchTimeoutMs,
      walkTimeoutMs: config.walkTimeoutMs,
      walkMaxEntries: config.walkMaxEntries,
      ...(egress ? { proxySocket: egress.socketPath } : {}),
    },
  });
  const blocking = connectRedis(config.redisUrl, `${config.agentId}:claims`);

  // Metrics read the actors' snapshots through inspection: attached only when
  // asked for, so a listener without --metrics-port or --inspect pays nothing.
  const metrics =
    config.metricsPort === undefined
      ? undefined
      : createMetrics({
          queueDepth: async () => {
            const [pending, active] = await Promise.all([redis.llen(keys.pending), redis.llen(keys.active)]);
            return { pending, active };
          },
          onCollectError: (err) => logger.warn({ err }, 'queue depth unavailable'),
        });

  let gate: ModelGate | undefined;
  let gateSubscriber: ReturnType<typeof connectRedis> | undefined;
  if (gated(config, options)) {
    gateSubscriber = connectRedis(config.redisUrl, `${config.agentId}:model-gate`);
    gate = await createModelGate({
      redis,
      subscriber: gateSubscriber,
      keys,
      maxCalls: config.maxModelCalls,
      tokensPerMinute: config.tokensPerMinute,
      leaseTtlMs: config.modelLeaseTtlMs,
      breakerThreshold: config.breakerThreshold,
      breakerCooldownMs: config.breakerCooldownMs,
      breakerMaxCooldownMs: config.breakerMaxCooldownMs,
      onBreaker: (state) => {
        logger[state === 'closed' ? 'info' : 'warn']({ breaker: state }, `model API circuit breaker ${state.replace('_', '-')}`);
        metrics?.breaker(state);
      },
      onError: (err) => logger.warn({ err }, 'model gate: Redis did not answer'),
    });
  }
  const guard: ModelGuard = { gate, prices, retries: config.anthropic.maxRetries, retryBaseMs: 500 };
  const prompts = new TaskPrompts();
  const ledger = createSpendLedger({
    redis,
    keys,
    agentId: config.agentId,
    flushMs: 1000,
    onError: (err) => logger.warn({ err }, 'could not record spend'),
  });

  const llm =
    config.planner === 'llm'
      ? createLlmPlanner({
          model: guardModel(model, guard, { onSpend: (id, _usage, usd) => metrics?.cost('planner', id, usd) }),
          modelId: resolveModel(config.anthropic.plannerModel),
        })
      : undefined;

  const runLog = config.model === 'scripted' && !options.model ? config.scripted.runLog : undefined;
  const record = (what: 'start' | 'done', input: AgentRunInput): void => {
    // Synchronous and O_APPEND: a line is whole even when the process is killed right after.
    if (runLog) appendFileSync(runLog, `${what} ${input.ref.id} ${input.step.worker} ${process.pid}\n`);
  };

  // The project's git credentials too: a worker cannot read them in its box, but a git error or a file could quote them.
  const scrub = createScrubber([...ownSecrets(config), ...(workspaces?.secrets ?? [])]);
  const runAgent = createWorkerStep({
    logger,
    sandbox,
    workspaces,
    model,
    guard,
    ledger,
    metrics,
    progress,
    prompts,
    runner,
    scrub,
    taskBudgetUsd: config.taskBudgetUsd,
    walk: { timeoutMs: config.walkTimeoutMs, maxEntries: config.walkMaxEntries },
    onStart: (input) => record('start', input),
  });

  const machine = createRuntimeMachine({
    redis,
    blocking,
    keys,
    agentId: config.agentId,
    domain: config.domain,
    logger,
    claimTimeoutSeconds: config.claimTimeoutSeconds,
    resultGraceMs: config.resultGraceMs,
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    deadLetterLimit: config.deadLetterLimit,
    recoveryIntervalMs: config.recoveryIntervalMs,
    orphanGraceMs: config.orphanGraceMs,
    registryInfo: { model: model.kind, concurrency: String(config.concurrency), pid: String(self.pid), host: self.host },
    progress,
    prompts,
    promptRetentionSeconds: config.promptRetentionSeconds,
    plan: (task, ref, signal) => {
      // The task branch is taken from the project's head at claim time, while the plan is made.
      // Workers wait for the same preparation; a failure here is retried by the first of them.
      if (workspaces?.isolation === 'worktree' && hasId(ref)) void workspaces.prepare(ref, new AbortController().signal).catch(() => undefined);
      return planTask(task, { ...(llm ? { llm } : {}), signal });
    },
    runAgent,
    onWorkerSaved: (input) => record('done', input),
    ...(workspaces ? { beforePublish: (result: FinalResult) => workspaces.finish(result) } : {}),
    scrub,
    onClaimed: (claim) => ledger.start(claim.ref, claim.resume?.spentUsd ?? 0),
    onTaskDone: (task) => ledger.forget(task),
    traces,
  });

  // Merged task branches are deleted once --keep-branches has passed: at start-up, then hourly.
  const sweep = () =>
    void workspaces?.sweepBranches().catch((error: unknown) => logger.warn({ err: error }, 'could not clean up merged task branches'));
  sweep();
  const sweeper = workspaces ? setInterval(sweep, 3_600_000) : undefined;
  sweeper?.unref();

  const observers = [...(metrics ? [observeActorMetrics(metrics)] : []), ...(options.inspect ? [options.inspect] : [])];

  const actor = createActor(machine, {
    input: {
      concurrency: config.concurrency,
      shutdownGraceMs: config.shutdownGraceMs,
      taskDefaults: {
        maxTakeovers: config.maxTakeovers,
        workspaceRoot: config.workspace,
        workerAttempts: config.workerAttempts,
        workerBackoffMs: config.workerBackoffMs,
      },
    },
    ...(observers.length ? { inspect: combineInspect(...observers) } : {}),
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

  // Cancels reach whichever instance holds the task through the control channel.
  const control = connectRedis(config.redisUrl, `${config.agentId}:control`);
  logRedisOutages({ commands: redis, claims: blocking, control, ...(gateSubscriber ? { 'model-gate': gateSubscriber } : {}) }, logger, options.outageLog);
  control.on('message', (_channel: string, text: string) => {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    const parsed = ControlMessageSchema.safeParse(json);
    if (!parsed.success) {
      logger.warn({ message: text.slice(0, 500) }, 'ignored a malformed control message');
      return;
    }
    actor.send({ type: 'CANCEL_TASK', taskId: parsed.data.task_id, reason: parsed.data.reason });
  });
  await control.subscribe(keys.control);

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
  actor.start();
  const http =
    metrics && config.metricsPort !== undefined
      ? await startHealthServer({
          port: config.metricsPort,
          host: config.metricsHost,
          metrics,
          health: async () => ({
            redis: await redis.ping().then((r) => r === 'PONG', () => false),
            listener: String(actor.getSnapshot().value),
          }),
        })
      : undefined;
  if (http) logger.info({ url: http.url }, 'metrics and health at /metrics and /healthz');
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

  // With Redis away, every command (a claim, a handoff, even QUIT behind them)
  // waits in ioredis's offline queue for as long as it stays away, so a stop
  // is raced against a deadline. Giving up loses nothing: the checkpoints stay,
  // and another instance takes the tasks over once this one's heartbeat expires.
  let cutShort: (reason: string) => void = () => undefined;
  const cutOff = new Promise<string>((resolve) => (cutShort = resolve));
  let stopping: Promise<StopResult> | undefined;
  const stop = () =>
    (stopping ??= (async (): Promise<StopResult> => {
      const limitMs = config.shutdownGraceMs + Math.ceil(config.claimTimeoutSeconds * 1000) + config.shutdownMarginMs;
      const timer = setTimeout(() => cutShort(`the deadline (${limitMs} ms after the stop began)`), limitMs);
      actor.send({ type: 'STOP' });
      const finished = (async () => {
        await done;
        await http?.close();
        clearInterval(sweeper);
        await workspaces?.close();
        await gate?.close();
        await Promise.allSettled([progress.flush(), ledger.close()]);
        await Promise.allSettled([redis.quit(), blocking.quit(), control.quit(), egress?.close(), ...(gateSubscriber ? [gateSubscriber.quit()] : [])]);
        return undefined;
      })();
      const reason = await Promise.race([finished, cutOff]);
      traces.endAll();
      clearTimeout(timer);
      if (reason === undefined) {
        logger.info('stopped');
        return { clean: true };
      }
      const left = Object.values(actor.getSnapshot().context.tasks).map((t) => t.key);
      logger.error(
        { reason, tasks_left: left },
        `shutdown cut short by ${reason}: checkpoints left as they are for another instance to take over`,
      );
      actor.stop();
      clearInterval(sweeper);
      for (const conn of [redis, blocking, control, ...(gateSubscriber ? [gateSubscriber] : [])]) conn.disconnect();
      void http?.close();
      void egress?.close();
      return { clean: false, reason };
    })());
  const abandon = (reason: string): void => {
    cutShort(reason);
    void stop();
  };

  return { actor, done, stop, abandon, http, metrics };
}
