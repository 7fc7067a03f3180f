import type { ModelClient } from '../models/types.ts';
import type { Effort } from '../models/catalog.ts';
import type { WorkerName, WorkerResult } from '../protocol/output.ts';
import type { AgentDefinition } from './agentFile.ts';
import { runAgentLoop, type AgentLoopEvent } from './agentLoop.ts';
import { UnknownWorkerError, WorkerWritesFailedError } from './errors.ts';
import { parseWorkerReport } from './report.ts';
import type { BashOptions } from './tools/index.ts';
import type { RunWorker, WorkerRunInput } from './types.ts';
import { Workspace } from './workspace.ts';

export interface WorkerRunnerOptions {
  agents: ReadonlyMap<WorkerName, AgentDefinition>;
  model: ModelClient;
  /** Alias (`sonnet`, `inherit`) or id from an agent file → the model id sent. */
  resolveModel: (alias: string) => string;
  /** Model calls per run. */
  maxTurns: number;
  /** max_tokens of each call. */
  maxTokens: number;
  /** `output_config.effort` for the models that take it. */
  effort?: Effort;
  /** Alias or id of the model a refused conversation starts anew on, once. */
  fallbackModel?: string;
  /** Tokens one run may use over all its turns. */
  tokenBudget: number;
  /** Bash limits and environment (built with `sandboxEnv`, without the orchestrator's secrets). */
  bash: BashOptions;
  /** Progress of each run, e.g. for the task's log. */
  onEvent?: (input: WorkerRunInput, event: AgentLoopEvent) => void;
}

/**
 * The `RunWorker` the worker machine invokes: one attempt of one worker in
 * the task's workspace. Files in the result come from the tools' change log,
 * never from the model's word. It throws the cause as is (SDK errors,
 * AgentTurnLimitError, WorkerAbortedError, ScriptedFailureError): the caller
 * asks `shouldRetry` (src/errors.ts) whether another attempt can help. A
 * stop reason that is not a success is a ModelStopError (its reason leads
 * its message).
 *
 * @example
 * const run = createWorkerRunner({ agents, model, resolveModel, maxTurns: 40, maxTokens: 8192, bash });
 * const result = await run({ taskId, worker: 'db-worker', prompt, workspace, attempt: 1 }, signal);
 */
export function createWorkerRunner(options: WorkerRunnerOptions): RunWorker {
  return async (input, signal): Promise<WorkerResult> => {
    const agent = options.agents.get(input.worker);
    if (agent === undefined) {
      const known = [...options.agents.keys()].join(', ') || 'none';
      throw new UnknownWorkerError(`no agent file defines ${input.worker} (loaded: ${known}): add agents/${input.worker}.md`);
    }
    // With a box, the listener opens no file of the worker's: the box's root only names paths.
    const workspace = input.box === undefined ? await Workspace.open(input.workspace) : Workspace.inBox(input.box.root);
    const loop = await runAgentLoop({
      agent,
      prompt: input.prompt,
      model: input.model ?? options.model,
      modelId: options.resolveModel(agent.model),
      workspace,
      signal,
      maxTurns: options.maxTurns,
      maxTokens: options.maxTokens,
      ...(options.effort !== undefined ? { effort: options.effort } : {}),
      ...(options.fallbackModel !== undefined ? { fallbackModelId: options.resolveModel(options.fallbackModel) } : {}),
      tokenBudget: options.tokenBudget,
      bash: options.bash,
      ...(input.binds ? { binds: input.binds } : {}),
      ...(input.box ? { box: input.box } : {}),
      caller: input.worker,
      ...(options.onEvent ? { onEvent: (event: AgentLoopEvent) => options.onEvent?.(input, event) } : {}),
    });
    const { created, modified, deleted } = loop.changes;
    // A write that failed is not a file written; a run whose every write failed did not do its part.
    if (loop.failedWrites.length > 0 && created.length + modified.length + deleted.length === 0) {
      throw new WorkerWritesFailedError(input.worker, loop.failedWrites);
    }
    const parsed = parseWorkerReport(loop.finalText);
    // `files_deleted` is the tools' record only: a model's own list (kept as `claimed_files_deleted`) is never committed.
    const { files_deleted: claimedDeleted, ...reported } = parsed.report;
    const report: Record<string, unknown> = { ...reported };
    if (claimedDeleted !== undefined) report['claimed_files_deleted'] = claimedDeleted;
    if (loop.changes.deleted.length > 0) report['files_deleted'] = loop.changes.deleted;
    return {
      worker: input.worker,
      summary: parsed.summary,
      files_created: loop.changes.created,
      files_modified: loop.changes.modified,
      issues: [...parsed.issues, ...loop.notes, ...loop.failedWrites.map((f) => `${f.path} was not written: ${f.error}`)],
      usage: loop.usage,
      turns: loop.turns,
      ...(Object.keys(report).length > 0 ? { report } : {}),
    };
  };
}
