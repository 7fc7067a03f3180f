import type { Redis } from 'ioredis';
import type { AgentRunInput } from '../../../machines/worker.machine.ts';
import type { ModelWait } from '../../limits/modelGate.ts';
import type { Logger } from '../../logger.ts';
import type { Claim, FinalResult } from '../../protocol/claim.ts';
import type { Keys } from '../../protocol/keys.ts';
import type { WorkerResult } from '../../protocol/output.ts';
import type { Plan } from '../../protocol/plan.ts';
import type { CheckResult } from '../../protocol/checks.ts';
import type { RunChecksInput } from '../checkRunner.ts';
import type { TaskMessage } from '../../protocol/task.ts';
import type { TaskRef } from '../../protocol/taskRef.ts';
import type { ProgressWriter, StaleHolderError } from '../../redis/progress.ts';
import type { TaskPrompts } from '../../redis/prompts.ts';
import type { RegistryOptions } from '../../redis/registry.ts';
import type { TaskTraces } from '../../observability/tracing.ts';

/** The I/O the machines are given: everything else in them is pure. */
export interface RuntimeDeps {
  redis: Redis;
  blocking: Redis;
  keys: Keys;
  agentId: string;
  domain: string;
  logger: Logger;
  claimTimeoutSeconds: number;
  resultGraceMs: number;
  heartbeatIntervalMs: number;
  deadLetterLimit: number;
  recoveryIntervalMs: number;
  orphanGraceMs: number;
  /** Extra registry info fields (model, concurrency ...). */
  registryInfo?: Record<string, string>;
  /** Where progress goes (checkpoint fields and log lines), one command per state change of a task. */
  progress: ProgressWriter;
  /** The workers' prompts, stored for the console with the publication. */
  prompts: TaskPrompts;
  /** How long the stored prompts are kept after the publication. */
  promptRetentionSeconds: number;
  plan(task: TaskMessage, ref: TaskRef, signal: AbortSignal): Promise<Plan>;
  /** Runs one attempt of one worker; throws WorkerRunError (anything else is judged by shouldRetry, src/errors.ts). */
  runAgent(input: AgentRunInput, signal: AbortSignal, hooks: RunHooks): Promise<WorkerResult>;
  /** Runs a task's checks (`--verify`) where its workers worked; absent: a task with checks fails them as not run. */
  runChecks?(input: RunChecksInput, signal: AbortSignal): Promise<CheckResult[]>;
  /** A task is held here from now on (claimed, or taken over with its checkpoint). */
  onClaimed?(claim: Claim): void;
  /** A task left this instance (published, or another holder publishes it). */
  onTaskDone?(task: TaskRef): void;
  /** Called once a worker's result is in its task's checkpoint (the crash suite's witness). */
  onWorkerSaved?(input: AgentRunInput): void;
  /** Runs before each publication attempt (the project merge); its result is what gets published. */
  beforePublish?(result: FinalResult): Promise<FinalResult>;
  /** Removes the orchestrator's own secrets from text before it is published (src/secrets.ts). */
  scrub?(text: string): string;
  /** The tasks' OpenTelemetry spans (no-ops without an SDK). */
  traces: TaskTraces;
}

/** What a run tells the worker actor about its model calls. */
export interface RunHooks {
  /** A model call waits for the domain's limits or breaker (told again when the reason changes). */
  onWait(wait: ModelWait): void;
  /** It goes ahead again. */
  onResume(): void;
}

/** What the actors of one listener share: its deps, its registry entry, and what it holds of each task. */
export interface ListenerShared extends RuntimeDeps {
  registry: RegistryOptions;
  /** Tasks (their keys) already told they are held elsewhere now (one log line each). */
  fenced: Set<string>;
  /** A task left this instance: its pending progress, prompts and spend are dropped. */
  done(task: TaskRef, stale?: StaleHolderError): void;
}
