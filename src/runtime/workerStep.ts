import type { AgentRunInput } from '../../machines/worker.machine.ts';
import type { CommitFiles } from '../git/commitFiles.ts';
import type { Logger } from '../logger.ts';
import { guardModel, type ModelGuard } from '../limits/guardedModel.ts';
import type { SpendLedger } from '../limits/ledger.ts';
import type { ModelClient } from '../models/types.ts';
import type { Metrics } from '../observability/metrics.ts';
import { buildWorkerPrompt } from '../planning/prompt.ts';
import { fixRoundSection, mergeFix } from '../results/checks.ts';
import { surveyWorkspace, type WorkspaceSurvey } from '../workers/survey.ts';
import type { TaskWorkspaces } from '../project/taskWorkspaces.ts';
import type { WorkerResult } from '../protocol/output.ts';
import { logFields } from '../protocol/taskRef.ts';
import type { ProgressWriter } from '../redis/progress.ts';
import type { TaskPrompts } from '../redis/prompts.ts';
import { scrubDeep } from '../secrets.ts';
import type { RunWorker } from '../workers/types.ts';
import { openToBox } from '../workers/sandbox/boxUser.ts';
import { NO_SANDBOX_WARNING } from '../workers/sandbox/choose.ts';
import type { Sandbox } from '../workers/sandbox/sandbox.ts';
import type { RunHooks } from './actors/deps.ts';
import { toWorkerRunError } from './workerRunFailure.ts';

export interface WorkerStepDeps {
  logger: Logger;
  sandbox: Sandbox;
  /** The project side (worktree or shared folder); undefined: each task works in its own folder. */
  workspaces: TaskWorkspaces | undefined;
  model: ModelClient;
  guard: ModelGuard;
  ledger: SpendLedger;
  metrics: Metrics | undefined;
  progress: ProgressWriter;
  prompts: TaskPrompts;
  runner: RunWorker;
  scrub(text: string): string;
  /** Dollars a task may spend when its message names no budget. */
  taskBudgetUsd: number | undefined;
  walk: { timeoutMs: number; maxEntries: number };
  /** Told when a run starts (the scripted model's run log). */
  onStart?(input: AgentRunInput): void;
}

/** The result with its file lists replaced by what its commit changed (`report.files_deleted` too, kept in step). */
function withFiles(result: WorkerResult, files: CommitFiles): WorkerResult {
  const { files_deleted: _tools, ...rest } = result;
  const next: WorkerResult = { ...rest, files_created: files.created, files_modified: files.modified };
  if (files.deleted.length > 0) next.files_deleted = files.deleted;
  if (result.report && 'files_deleted' in result.report) {
    const { files_deleted: _recorded, ...report } = result.report;
    next.report = files.deleted.length > 0 ? { ...report, files_deleted: files.deleted } : report;
    if (Object.keys(next.report).length === 0) delete next.report;
  }
  return next;
}

/**
 * One attempt of one worker, from the task's place to its committed result:
 * the workspace made ready, the survey, the prompt (kept for the console),
 * the model guarded by the gate and the task's budget, the run in the box,
 * the result scrubbed and committed. Every failure leaves as a WorkerRunError
 * (or a WorkerBudgetError) that says whether another attempt could help.
 */
export function createWorkerStep(deps: WorkerStepDeps) {
  const { logger, sandbox, workspaces, model, guard, ledger, metrics, progress, prompts, scrub } = deps;

  // Workers that start together (api and auth once db is done) are started in
  // one synchronous step, before either can write: they share one look at
  // the workspace, which is forgotten as soon as that step is over.
  const surveys = new Map<string, Promise<WorkspaceSurvey>>();
  const survey = (workspace: string): Promise<WorkspaceSurvey> => {
    let look = surveys.get(workspace);
    if (look === undefined) {
      look = surveyWorkspace(workspace, { walk: deps.walk });
      surveys.set(workspace, look);
      queueMicrotask(() => surveys.delete(workspace));
    }
    return look;
  };

  return async (input: AgentRunInput, signal: AbortSignal, hooks: RunHooks): Promise<WorkerResult> => {
    deps.onStart?.(input);
    const worker = input.step.worker;
    if (sandbox.kind === 'none') logger.warn({ ...logFields(input.ref), worker }, NO_SANDBOX_WARNING);
    const budgetUsd = input.task.metadata.budget_usd ?? deps.taskBudgetUsd;
    let waiting: string | undefined;
    const runModel = guardModel(model, guard, {
      ...(budgetUsd !== undefined ? { budget: { limitUsd: budgetUsd, spent: async () => ledger.spent(input.ref) } } : {}),
      onSpend: (id, _usage, usd) => {
        metrics?.cost(worker, id, usd);
        progress.write({ ref: input.ref, fields: ledger.add(input.ref, usd ?? 0) });
      },
      onWait: (wait) => {
        if (metrics && waiting !== wait.reason) {
          if (waiting !== undefined) metrics.waitingForModel(waiting, -1);
          metrics.waitingForModel(wait.reason, 1);
        }
        waiting = wait.reason;
        hooks.onWait(wait);
      },
      onResume: () => {
        if (metrics && waiting !== undefined) metrics.waitingForModel(waiting, -1);
        waiting = undefined;
        hooks.onResume();
      },
    });
    try {
      // With a project, the task's worktree (or the project folder itself); otherwise its own folder.
      const place = workspaces
        ? await workspaces.prepare(input.ref, signal)
        : { dir: input.workspace, sandbox: { writable: [input.workspace], readOnly: [] } };
      // A `uid` box writes the task folder as its own uid: opened to it before anything is written there.
      if (!workspaces) await openToBox(sandbox, place.dir);
      // In a box the survey is taken inside it: the listener never walks a worker's files.
      const found = place.box ? await place.box.survey() : await survey(place.dir);
      const built = buildWorkerPrompt({
        task: input.task,
        step: input.step,
        plan: input.plan,
        dependencies: input.dependencies,
        survey: found,
      });
      // A fix round: the checks that failed (their output scrubbed already) and this worker's earlier work.
      const { fix } = input;
      const prompt = fix ? `${built}\n\n${fixRoundSection({ round: fix.round, rounds: fix.rounds, checks: fix.checks, previous: fix.previous })}` : built;
      // For the console's task page, without our secrets: in the checkpoint with the task's next
      // step while it runs, and stored with the publication.
      progress.write({
        ref: input.ref,
        fields: prompts.keep(input.ref, worker, { attempt: input.attempt, prompt: scrub(prompt) }),
      });
      const raw = await deps.runner(
        { taskId: input.ref.id, worker, prompt, workspace: place.dir, attempt: input.attempt, binds: place.sandbox, model: runModel, ...(place.box ? { box: place.box } : {}) },
        signal,
      );
      // Scrubbed before it is checkpointed, logged, passed on to the next worker or published.
      const result = { ...(scrubDeep(raw, scrub) as WorkerResult), cost_usd: runModel.spent().cost_usd };
      // Committed before the result is checkpointed: a recorded result always has its commit.
      const committed = await workspaces?.commit(input.ref.id, result, input.task.payload.description);
      // The files are what the commit changed, not what the tools saw written (a file written again
      // unchanged, a deletion that was not one); what was left out of it is said in the result.
      const done = committed ? { ...withFiles(result, committed.files), commit: committed.commit, issues: [...result.issues, ...committed.issues.map(scrub)] } : result;
      // A fix round's result covers the worker's runs so far: the earlier files stay its own.
      return fix ? mergeFix(fix.previous, done, fix.round) : done;
    } catch (error) {
      throw toWorkerRunError(error, { spent: runModel.spent(), scrub });
    } finally {
      if (metrics && waiting !== undefined) metrics.waitingForModel(waiting, -1);
    }
  };
}
