import { appendFileSync } from 'node:fs';
import type { AgentRunInput } from '../../../machines/worker.machine.ts';
import type { Config } from '../../config.ts';
import type { Logger } from '../../logger.ts';
import type { ModelGuard } from '../../limits/guardedModel.ts';
import type { SpendLedger } from '../../limits/ledger.ts';
import type { ModelClient } from '../../models/types.ts';
import type { Metrics } from '../../observability/metrics.ts';
import type { TaskWorkspaces } from '../../project/taskWorkspaces.ts';
import type { WorkerName } from '../../protocol/output.ts';
import type { ProgressWriter } from '../../redis/progress.ts';
import type { TaskPrompts } from '../../redis/prompts.ts';
import { createScrubber, ownSecrets } from '../../secrets.ts';
import type { AgentDefinition } from '../../workers/agentFile.ts';
import { createWorkerRunner } from '../../workers/runWorker.ts';
import type { EgressProxy } from '../../workers/sandbox/egressProxy.ts';
import type { Sandbox } from '../../workers/sandbox/sandbox.ts';
import { sandboxEnv } from '../../workers/tools/index.ts';
import type { RuntimeDeps } from '../actors/deps.ts';
import { createCheckRunner } from '../checkRunner.ts';
import { createWorkerStep } from '../workerStep.ts';

export interface WorkerDeps {
  logger: Logger;
  agents: ReadonlyMap<WorkerName, AgentDefinition>;
  resolveModel: (alias: string) => string;
  sandbox: Sandbox;
  egress: EgressProxy | undefined;
  workspaces: TaskWorkspaces | undefined;
  model: ModelClient;
  /** Set when the model was given (OrchestratorOptions.model): the scripted run log is then not written. */
  modelGiven: boolean;
  guard: ModelGuard;
  ledger: SpendLedger;
  metrics: Metrics | undefined;
  progress: ProgressWriter;
  prompts: TaskPrompts;
}

/** The listener's side of a worker: one attempt (runAgent), what a saved one records, and the scrubber of its text. */
export type Worker = Required<Pick<RuntimeDeps, 'runAgent' | 'onWorkerSaved' | 'scrub' | 'runChecks'>>;

/** Maps the config to the worker runner and builds the worker step on it. */
export function createWorker(config: Config, deps: WorkerDeps): Worker {
  const { workspaces, egress } = deps;
  const limits = {
    processes: config.bashMaxProcesses,
    fileSizeBytes: config.bashMaxFileBytes,
    cpuSeconds: config.bashCpuSeconds,
    memoryBytes: config.bashMaxMemoryBytes,
    tmpBytes: config.bashTmpBytes,
  };
  const runner = createWorkerRunner({
    agents: deps.agents,
    model: deps.model,
    resolveModel: deps.resolveModel,
    maxTurns: config.maxTurns,
    maxTokens: config.maxTokens,
    ...(config.anthropic.effort !== undefined ? { effort: config.anthropic.effort } : {}),
    ...(config.anthropic.fallbackModel !== undefined ? { fallbackModel: config.anthropic.fallbackModel } : {}),
    tokenBudget: config.workerTokenBudget,
    bash: {
      timeoutMs: config.bashTimeoutMs,
      maxOutputBytes: config.bashMaxOutputBytes,
      env: sandboxEnv(process.env),
      sandbox: deps.sandbox,
      limits,
      searchTimeoutMs: config.searchTimeoutMs,
      walkTimeoutMs: config.walkTimeoutMs,
      walkMaxEntries: config.walkMaxEntries,
      ...(egress ? { proxySocket: egress.socketPath } : {}),
    },
  });

  const runLog = config.model === 'scripted' && !deps.modelGiven ? config.scripted.runLog : undefined;
  const record = (what: 'start' | 'done', input: AgentRunInput): void => {
    // Synchronous and O_APPEND: a line is whole even when the process is killed right after.
    if (runLog) appendFileSync(runLog, `${what} ${input.ref.id} ${input.step.worker} ${process.pid}\n`);
  };

  // The project's git credentials too: a worker cannot read them in its box, but a git error or a file could quote them.
  const scrub = createScrubber([...ownSecrets(config), ...(workspaces?.secrets ?? [])]);
  const runAgent = createWorkerStep({
    logger: deps.logger,
    sandbox: deps.sandbox,
    workspaces,
    model: deps.model,
    guard: deps.guard,
    ledger: deps.ledger,
    metrics: deps.metrics,
    progress: deps.progress,
    prompts: deps.prompts,
    runner,
    scrub,
    taskBudgetUsd: config.taskBudgetUsd,
    walk: { timeoutMs: config.walkTimeoutMs, maxEntries: config.walkMaxEntries },
    onStart: (input) => record('start', input),
  });
  // The project's checks run where the workers worked, with the same limits and environment as their Bash.
  const runChecks = createCheckRunner({
    logger: deps.logger,
    sandbox: deps.sandbox,
    workspaces,
    timeoutMs: config.verifyTimeoutMs,
    env: sandboxEnv(process.env),
    limits,
    ...(egress ? { proxySocket: egress.socketPath } : {}),
    scrub,
  });
  return { runAgent, onWorkerSaved: (input) => record('done', input), scrub, runChecks };
}
