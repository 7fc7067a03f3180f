import type { Redis } from 'ioredis';
import { fromCallback, fromPromise } from 'xstate';
import { listenerMachine } from '../../machines/listener.machine.ts';
import { taskMachine } from '../../machines/task.machine.ts';
import { workerMachine, type AgentRunInput } from '../../machines/worker.machine.ts';
import type { ModelWait } from '../limits/modelGate.ts';
import type { Logger } from '../logger.ts';
import type { Plan } from '../planning/plan.ts';
import type { Claim, FinalResult } from '../protocol/claim.ts';
import type { Keys } from '../protocol/keys.ts';
import type { WorkerResult } from '../protocol/output.ts';
import type { TaskMessage } from '../protocol/task.ts';
import { planField, progressField, resultField } from '../redis/checkpoint.ts';
import { createProgressWriter, DEFAULT_PROGRESS_FLUSH_MS, StaleHolderError, type ProgressWriter } from '../redis/progress.ts';
import { TaskPrompts } from '../redis/prompts.ts';
import { claimTasks } from '../redis/queue.ts';
import { createRecovery, handOff } from '../redis/recovery.ts';
import { deregisterAgent, heartbeat, registerAgent, type RegistryOptions } from '../redis/registry.ts';
import { OwnershipLostError, publishResult } from '../redis/results.ts';
import { isConnectionError } from '../redis/retry.ts';
import { WorkerRunError } from '../workers/workerRunError.ts';
import { DEFAULT_PROMPT_RETENTION_SECONDS } from '../optionDefaults.ts';
import { scrubDeep } from '../secrets.ts';
import { inSpan, TaskTraces } from '../observability/tracing.ts';

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
  /** Where progress goes (checkpoint fields and log lines), one command per state change of a task; one of its own by default. */
  progress?: ProgressWriter;
  /** The workers' prompts, stored for the console with the publication. */
  prompts?: TaskPrompts;
  /** How long the stored prompts are kept after the publication (default 7 days). */
  promptRetentionSeconds?: number;
  plan(task: TaskMessage, signal: AbortSignal): Promise<Plan>;
  /** Runs one attempt of one worker; throws WorkerRunError (or anything, taken as not retryable). */
  runAgent(input: AgentRunInput, signal: AbortSignal, hooks: RunHooks): Promise<WorkerResult>;
  /** A task is held here from now on (claimed, or taken over with its checkpoint). */
  onClaimed?(claim: Claim): void;
  /** A task left this instance (published, or another holder publishes it). */
  onTaskDone?(claimKey: string): void;
  /** Called once a worker's result is in its task's checkpoint (the crash suite's witness). */
  onWorkerSaved?(input: AgentRunInput): void;
  /** Runs before each publication attempt (the project merge); its result is what gets published. */
  beforePublish?(result: FinalResult): Promise<FinalResult>;
  /** Removes the orchestrator's own secrets from text before it is published (src/secrets.ts). */
  scrub?(text: string): string;
  /** The tasks' OpenTelemetry spans (no-ops without an SDK). */
  traces?: TaskTraces;
}

/** What a run tells the worker actor about its model calls. */
export interface RunHooks {
  /** A model call waits for the domain's limits or breaker (told again when the reason changes). */
  onWait(wait: ModelWait): void;
  /** It goes ahead again. */
  onResume(): void;
}

const describePlan = (plan: Plan): string =>
  plan.steps
    .map((s) => `${s.worker}${s.dependsOn.length ? ` (after ${s.dependsOn.join(', ')})` : ''}${s.critical ? '' : ' [non-critical]'}`)
    .join(', ');

const fileList = (r: WorkerResult): string => {
  const files = [...r.files_created.map((f) => `+${f}`), ...r.files_modified.map((f) => `~${f}`)];
  return files.length ? files.join(' ') : 'no files';
};

/**
 * Builds the listener machine with its real actors: Redis for claims,
 * results and the registry, the planner, and the worker runner. Progress
 * lines go to `results:{id}:logs` as each actor does its part.
 */
export function createRuntimeMachine(deps: RuntimeDeps) {
  const { redis, keys, logger } = deps;
  const traces = deps.traces ?? new TaskTraces();

  const registry: RegistryOptions = {
    redis,
    keys,
    agentId: deps.agentId,
    domain: deps.domain,
    ttlSeconds: Math.max(1, Math.ceil((deps.heartbeatIntervalMs * 3) / 1000)),
    ...(deps.registryInfo ? { extra: deps.registryInfo } : {}),
  };

  const progress =
    deps.progress ??
    createProgressWriter({ redis, keys, flushMs: DEFAULT_PROGRESS_FLUSH_MS, requireFence: true, onError: (err, taskId) => logger.warn({ err, task_id: taskId }, 'could not record progress') });
  const prompts = deps.prompts ?? new TaskPrompts();
  /** Tasks already told they are held elsewhere now (one log line each). */
  const fenced = new Set<string>();
  const done = (claimKey: string, stale?: StaleHolderError): void => {
    progress.drop(claimKey, stale);
    prompts.forget(claimKey);
    deps.onTaskDone?.(claimKey);
  };

  const runAgent = fromPromise<WorkerResult, AgentRunInput>(async ({ input, signal }) => {
    const { taskId, claimKey, step, attempt } = input;
    const worker = step.worker;
    const wlog = logger.child({ task_id: taskId, worker });
    wlog.info({ attempt }, 'worker started');
    const started = Date.now();
    progress.write({
      claimKey,
      taskId,
      fields: progressField(worker, { status: 'running', attempt, at: started }),
      lines: [`${worker} started${attempt > 1 ? ` (attempt ${attempt})` : ''}`],
    });
    // The worker machine shows the wait (running.waitingForModel), watch shows it from the checkpoint.
    let waitingFor: string | undefined;
    const hooks: RunHooks = {
      onWait(wait) {
        if (signal.aborted || waitingFor === wait.reason) return;
        waitingFor = wait.reason;
        input.worker?.send({ type: 'MODEL_WAIT', ...wait });
        progress.write({
          claimKey,
          taskId,
          fields: progressField(worker, { status: 'waiting_for_model', attempt, at: Date.now(), reason: wait.reason }),
        });
      },
      onResume() {
        if (signal.aborted || waitingFor === undefined) return;
        waitingFor = undefined;
        input.worker?.send({ type: 'MODEL_RESUMED' });
        progress.write({ claimKey, taskId, fields: progressField(worker, { status: 'running', attempt, at: Date.now() }) });
      },
    };
    try {
      const result = await inSpan(
        `worker ${worker}`,
        { 'task.id': taskId, 'worker.name': worker, 'worker.attempt': attempt },
        () => deps.runAgent(input, signal, hooks),
        { parent: traces.contextOf(claimKey, taskId) },
      );
      const ms = Date.now() - started;
      const tokens = result.usage.input_tokens + result.usage.output_tokens;
      // Saved, not just written: the result must be in the checkpoint before the worker counts as done.
      await progress.save({
        claimKey,
        taskId,
        fields: { ...resultField(result), ...progressField(worker, { status: 'succeeded', attempt, at: Date.now() }) },
        lines: [`${worker} succeeded in ${ms} ms: ${fileList(result)}${tokens ? `, ${tokens} tokens` : ''}`],
      });
      deps.onWorkerSaved?.(input);
      wlog.info({ attempt, ms, files_created: result.files_created, usage: result.usage }, 'worker succeeded');
      return result;
    } catch (error) {
      const failure =
        error instanceof WorkerRunError
          ? error
          : new WorkerRunError(error instanceof Error ? error.message : String(error), { retryable: isConnectionError(error), cause: error });
      if (!signal.aborted) {
        wlog.warn({ attempt, err: error, retryable: failure.retryable }, 'worker attempt failed');
        progress.write({
          claimKey,
          taskId,
          fields: progressField(worker, { status: 'failed', attempt, at: Date.now(), error: failure.message }),
          lines: [`${worker} attempt ${attempt} failed: ${failure.message}`],
        });
      }
      throw failure;
    }
  });

  const planTask = fromPromise<Plan, { task: TaskMessage; claimKey: string }>(async ({ input, signal }) => {
    const id = input.task.task_id;
    const plan = await inSpan(
      'plan',
      { 'task.id': id },
      async (span) => {
        const p = await deps.plan(input.task, signal);
        span.setAttributes({ 'plan.source': p.source, 'plan.workers': p.steps.map((s) => s.worker) });
        return p;
      },
      { parent: traces.contextOf(input.claimKey, id) },
    );
    // Written with the task's next saved step (its first worker's result): nothing waits for it, and
    // it cannot go out after that step, so a checkpoint never holds a result without its plan.
    progress.write({
      claimKey: input.claimKey,
      taskId: id,
      fields: planField(plan),
      lines: [...plan.notes.map((n) => `plan note: ${n}`), plan.steps.length ? `plan (${plan.source}): ${describePlan(plan)}` : 'plan: no worker matches'],
    });
    logger.info({ task_id: id, plan: plan.steps.map((s) => s.worker), source: plan.source, notes: plan.notes }, 'task planned');
    return plan;
  });

  const publish = fromPromise<{ published: boolean }, FinalResult>(async ({ input: claimed, signal }) => {
    const unscrubbed = deps.beforePublish ? await deps.beforePublish(claimed) : claimed;
    // Whatever a worker echoed (a key it found, an error quoting a URL) leaves without our secrets.
    const input: FinalResult = deps.scrub
      ? {
          ...unscrubbed,
          output: scrubDeep(unscrubbed.output, deps.scrub) as FinalResult['output'],
          error: unscrubbed.error === undefined ? undefined : deps.scrub(unscrubbed.error),
        }
      : unscrubbed;
    try {
      // A batch of the task's progress under way goes first: its lines precede "result published".
      await progress.idle(input.claimKey);
      const { waitedMs, forced } = await inSpan('publish', { 'task.id': input.taskId ?? input.claimKey }, () =>
        publishResult(
          {
            redis,
            keys,
            agentId: deps.agentId,
            owner: deps.agentId,
            graceMs: deps.resultGraceMs,
            deadLetterLimit: deps.deadLetterLimit,
            signal,
            // Taken only once published: a publication retried after a Redis error carries them again.
            lines: progress.lines(input.claimKey, input.taskId),
            prompts: prompts.of(input.claimKey),
            promptTtlSeconds: deps.promptRetentionSeconds ?? DEFAULT_PROMPT_RETENTION_SECONDS,
          },
          input,
        ),
        { parent: traces.contextOf(input.claimKey, input.taskId) },
      );
      done(input.claimKey);
      traces.finish(input.claimKey, input.taskId, input.outcome, input.error);
      const fields = { task_id: input.taskId, outcome: input.outcome, waited_ms: waitedMs, forced };
      if (input.deadLetter !== undefined) logger.warn({ ...fields, reason: input.deadLetter }, 'message dead-lettered');
      else logger.info(fields, 'result published');
      return { published: true };
    } catch (error) {
      if (!(error instanceof OwnershipLostError)) throw error;
      done(input.claimKey);
      traces.finish(input.claimKey, input.taskId, 'superseded');
      logger.warn({ task_id: input.taskId, claim: input.claimKey }, error.message);
      return { published: false };
    }
  });

  const held = (c: Claim): void => {
    // Before its first line: every batch of the task's progress carries the fencing token.
    progress.hold(c.claimKey, c.fence);
    fenced.delete(c.claimKey);
    if (c.resume?.prompts) prompts.seed(c.claimKey, c.resume.prompts);
    deps.onClaimed?.(c);
  };
  const recover = createRecovery({ redis, keys, agentId: deps.agentId, orphanGraceMs: deps.orphanGraceMs });
  let nextRecovery = 0; // at once on start: a restart under the same id resumes its tasks
  const claim = fromPromise<Claim[], { max: number; local: string[] }>(async ({ input }) => {
    let recovered: Claim[] = [];
    if (Date.now() >= nextRecovery) {
      nextRecovery = Date.now() + deps.recoveryIntervalMs;
      recovered = await recover(input.max, new Set(input.local));
      for (const c of recovered) {
        logger.warn({ claim: c.claimKey, takeovers: c.resume?.takeovers, fence: c.fence }, 'took over a task whose holder stopped');
        held(c);
        progress.write({ claimKey: c.claimKey, taskId: c.parsed.ok ? c.parsed.task.task_id : undefined, lines: [`taken over by ${deps.agentId} (takeover ${c.resume?.takeovers ?? 0})`] });
      }
    }
    const room = input.max - recovered.length;
    if (room <= 0) return recovered;
    const fresh = await claimTasks(
      { keys, agentId: deps.agentId, redis, blocking: deps.blocking },
      room,
      recovered.length ? 0.01 : deps.claimTimeoutSeconds,
      deps.deadLetterLimit,
    );
    for (const c of fresh) {
      held(c);
      if (c.parsed.ok) progress.write({ claimKey: c.claimKey, taskId: c.parsed.task.task_id, lines: [`claimed by ${deps.agentId}`] });
    }
    return recovered.concat(fresh);
  });

  // The heartbeat is this instance's lease on its tasks; its actor also stops the tasks whose lease
  // moved on: a write refused for a stale fencing token means another instance holds the task now.
  // The task is cancelled in its listener (its workers stop; its publication, refused for the same
  // token, publishes nothing), and nothing more of it is written from here.
  const beat = fromCallback(({ sendBack }) => {
    const offStale = progress.onStale((claimKey, fence) => {
      if (fenced.has(claimKey)) return;
      fenced.add(claimKey);
      logger.warn(
        { claim: claimKey, fence },
        'stale holder: another instance took this task over; its progress, merge and publication are refused here, and the task stops without publishing',
      );
      done(claimKey, new StaleHolderError(claimKey, fence));
      sendBack({ type: 'CANCEL_TASK', taskId: claimKey, reason: 'stale holder: another instance holds this task now' });
    });
    // One beat at a time: while Redis is away a beat waits in ioredis's offline
    // queue, and piling one up per period would replay them all on reconnect
    // (or fail them all, each with its own log line, when the stop gives up).
    let beating = false;
    const timer = setInterval(() => {
      if (beating) return;
      beating = true;
      heartbeat(registry)
        .catch((error: unknown) => logger.warn({ err: error }, 'heartbeat failed'))
        .finally(() => (beating = false));
    }, deps.heartbeatIntervalMs);
    return () => {
      clearInterval(timer);
      offStale();
    };
  });

  const worker = workerMachine.provide({ actors: { runAgent } });
  const task = taskMachine.provide({ actors: { planTask, worker, publish } });
  return listenerMachine.provide({
    actors: {
      task,
      claim,
      heartbeat: beat,
      register: fromPromise(() => registerAgent(registry, 'active')),
      markStopping: fromPromise(() => heartbeat(registry, 'stopping')),
      // What is pending goes out first: the next holder starts from the checkpoint.
      handOff: fromPromise<void, { claimKeys: string[] }>(async ({ input }) => {
        await progress.flush();
        await handOff(redis, keys, input.claimKeys);
      }),
      deregister: fromPromise(() => deregisterAgent(registry)),
    },
  });
}
