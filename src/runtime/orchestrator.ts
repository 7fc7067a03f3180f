import { appendFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createActor, type Actor, type InspectionEvent } from 'xstate';
import type { AgentRunInput } from '../../machines/worker.machine.ts';
import type { ListenerEmitted } from '../../machines/listener.machine.ts';
import { scriptedLatency, type Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import { createAnthropicModel } from '../models/anthropic.ts';
import { resolveModelId } from '../models/aliases.ts';
import { createScriptedModel } from '../models/scripted.ts';
import { TaskTraces, traceModel } from '../observability/tracing.ts';
import type { ModelClient } from '../models/types.ts';
import { createLlmPlanner } from '../planning/llmPlanner.ts';
import { planTask } from '../planning/planTask.ts';
import { buildWorkerPrompt } from '../planning/prompt.ts';
import { surveyWorkspace, type WorkspaceSurvey } from '../planning/survey.ts';
import { keysFor } from '../protocol/keys.ts';
import { combineInspect, observeActorMetrics } from '../observability/actorMetrics.ts';
import { startHealthServer, type HealthServer } from '../observability/httpServer.ts';
import { createMetrics, type Metrics } from '../observability/metrics.ts';
import { ControlMessageSchema } from '../redis/cancel.ts';
import { connectRedis } from '../redis/connection.ts';
import { loadAgents } from '../workers/agentFile.ts';
import { isRetryable } from '../workers/errors.ts';
import { createWorkerRunner } from '../workers/runWorker.ts';
import { sandboxEnv } from '../workers/tools/index.ts';
import { WorkerRunError } from '../workers/workerRunError.ts';
import { createRuntimeMachine } from './machines.ts';

export interface OrchestratorOptions {
  logger: Logger;
  /** Stately Inspector (or any inspection observer) for every actor. */
  inspect?: (event: InspectionEvent) => void;
  /** Replaces the model built from the config (benchmarks, tests). */
  model?: ModelClient;
  /** Called for each invocation of the model per caller (the crash suite counts them). */
  onModelCall?: (caller: string) => void;
}

export interface Orchestrator {
  readonly actor: Actor<ReturnType<typeof createRuntimeMachine>>;
  /** Resolves when the listener has stopped (after stop(), or a fatal error). */
  readonly done: Promise<void>;
  /** The /metrics and /healthz server, when `metricsPort` is set. */
  readonly http: HealthServer | undefined;
  readonly metrics: Metrics | undefined;
  /** Stops claiming, lets tasks in flight finish, deregisters, closes Redis. Safe to call twice. */
  stop(): Promise<void>;
}

function buildModel(config: Config, options: OrchestratorOptions): ModelClient {
  if (options.model) return options.model;
  if (config.model === 'anthropic') {
    return createAnthropicModel({
      apiKey: config.anthropic.apiKey!,
      ...(config.anthropic.baseURL ? { baseURL: config.anthropic.baseURL } : {}),
      maxRetries: config.anthropic.maxRetries,
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
  await mkdir(config.workspace, { recursive: true });
  const model = traceModel(buildModel(config, options));
  const traces = new TaskTraces();
  const resolveModel = (alias: string): string => resolveModelId(alias, config.anthropic.models);
  const runner = createWorkerRunner({
    agents,
    model,
    resolveModel,
    maxTurns: config.maxTurns,
    maxTokens: config.maxTokens,
    tokenBudget: config.workerTokenBudget,
    bash: { timeoutMs: config.bashTimeoutMs, maxOutputBytes: config.bashMaxOutputBytes, env: sandboxEnv(process.env) },
  });
  const llm =
    config.planner === 'llm' ? createLlmPlanner({ model, modelId: resolveModel(config.anthropic.plannerModel) }) : undefined;

  const runLog = config.model === 'scripted' && !options.model ? config.scripted.runLog : undefined;
  const record = (what: 'start' | 'done', input: AgentRunInput): void => {
    // Synchronous and O_APPEND: a line is whole even when the process is killed right after.
    if (runLog) appendFileSync(runLog, `${what} ${input.taskId} ${input.step.worker} ${process.pid}\n`);
  };

  // Workers that start together (api and auth once db is done) are started in
  // one synchronous step, before either can write: they share one look at
  // the workspace, which is forgotten as soon as that step is over.
  const surveys = new Map<string, Promise<WorkspaceSurvey>>();
  const survey = (workspace: string): Promise<WorkspaceSurvey> => {
    let look = surveys.get(workspace);
    if (look === undefined) {
      look = surveyWorkspace(workspace);
      surveys.set(workspace, look);
      queueMicrotask(() => surveys.delete(workspace));
    }
    return look;
  };

  const runAgent = async (input: AgentRunInput, signal: AbortSignal) => {
    record('start', input);
    const found = await survey(input.workspace);
    const prompt = buildWorkerPrompt({
      task: input.task,
      step: input.step,
      plan: input.plan,
      dependencies: input.dependencies,
      survey: found,
    });
    try {
      return await runner(
        { taskId: input.taskId, worker: input.step.worker, prompt, workspace: input.workspace, attempt: input.attempt },
        signal,
      );
    } catch (error) {
      throw new WorkerRunError(error instanceof Error ? error.message : String(error), {
        retryable: isRetryable(error),
        cause: error,
      });
    }
  };

  const keys = keysFor(config.domain);
  const redis = connectRedis(config.redisUrl, `${config.agentId}:commands`, { autoPipelining: true });
  const blocking = connectRedis(config.redisUrl, `${config.agentId}:claims`);
  for (const [name, conn] of [['commands', redis], ['claims', blocking]] as const) {
    conn.on('error', (error: Error) => logger.warn({ err: error, connection: name }, 'redis connection error'));
  }

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
    registryInfo: { model: model.kind, concurrency: String(config.concurrency), pid: String(process.pid) },
    plan: (task, signal) => planTask(task, { ...(llm ? { llm } : {}), signal }),
    runAgent,
    onWorkerSaved: (input) => record('done', input),
    traces,
  });

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
  control.on('error', (error: Error) => logger.warn({ err: error, connection: 'control' }, 'redis connection error'));
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
    { agent_id: config.agentId, domain: config.domain, concurrency: config.concurrency, model: model.kind, planner: config.planner, workspace: config.workspace },
    'listening',
  );

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      actor.send({ type: 'STOP' });
      await done;
      traces.endAll();
      await http?.close();
      await Promise.allSettled([redis.quit(), blocking.quit(), control.quit()]);
      logger.info('stopped');
    })());

  return { actor, done, stop, http, metrics };
}
