import { z } from 'zod';
import type { CheckResult } from './checks.ts';

export const WORKER_NAMES = ['api-worker', 'db-worker', 'auth-worker'] as const;
export type WorkerName = (typeof WORKER_NAMES)[number];

/** Token usage of one model call, a worker, or a task. */
export const UsageSchema = z.object({
  input_tokens: z.number().int().nonnegative(),
  output_tokens: z.number().int().nonnegative(),
  cache_read_input_tokens: z.number().int().nonnegative(),
  cache_creation_input_tokens: z.number().int().nonnegative(),
});
export type Usage = z.infer<typeof UsageSchema>;
export const ZERO_USAGE: Usage = {
  input_tokens: 0,
  output_tokens: 0,
  cache_read_input_tokens: 0,
  cache_creation_input_tokens: 0,
};
export function addUsage(a: Usage, b: Usage): Usage {
  return {
    input_tokens: a.input_tokens + b.input_tokens,
    output_tokens: a.output_tokens + b.output_tokens,
    cache_read_input_tokens: a.cache_read_input_tokens + b.cache_read_input_tokens,
    cache_creation_input_tokens: a.cache_creation_input_tokens + b.cache_creation_input_tokens,
  };
}

/**
 * What one worker run produced. Files come from the tools' own record of
 * the writes that succeeded, then (worktree isolation) from what the
 * worker's commit changed: a file written again unchanged is in no list.
 */
export interface WorkerResult {
  worker: WorkerName;
  summary: string;
  files_created: string[];
  files_modified: string[];
  /** Files that were there before the run and are gone; absent when none. */
  files_deleted?: string[];
  issues: string[];
  usage: Usage;
  /** Dollars of this run's model calls, at the price table's rates (absent in checkpoints written before prices existed; null: a model without a price was used, the cost is unknown). */
  cost_usd?: number | null;
  turns: number;
  /** Extra structured fields the model reported (endpoints, tables, ...). */
  report?: Record<string, unknown>;
  /** The commit of this worker's changes on the task branch (worktree isolation). */
  commit?: string;
  /** Set when a fix round (`--verify`) ran this worker again: the round's number; files and usage cover every run. */
  round?: number;
}

/** `output.status` of the protocol, plus the hash field `outcome`. */
export type Outcome = 'completed' | 'completed_with_warnings' | 'partial' | 'failed';

/** The per-worker entry of `output.details`. */
export interface WorkerDetail {
  status: 'succeeded' | 'failed' | 'skipped';
  task: string;
  depends_on: WorkerName[];
  attempts: number;
  duration_ms?: number;
  summary?: string;
  files_created?: string[];
  files_modified?: string[];
  files_deleted?: string[];
  issues?: string[];
  error?: string;
  /** Tokens and dollars of every attempt of this worker, failed ones included. */
  usage?: CostedUsage;
  report?: Record<string, unknown>;
  /** The commit of this worker's changes on the task branch (worktree isolation). */
  commit?: string;
}

/** `output.git`: where a task's work is in the project's history (worktree isolation). */
export interface TaskGit {
  /** The task branch, e.g. `backend/<task>`; kept when not merged. */
  branch: string;
  /** The project commit the branch was taken from. */
  base: string;
  /** Each finished worker's commit on the branch. */
  commits: Partial<Record<WorkerName, string>>;
  /** The project branch's commit that holds the task (a merge commit, or the task's tip on a fast-forward); null when not merged. */
  merged: string | null;
  /** Files both sides changed when the merge conflicted; null otherwise. */
  conflict: string[] | null;
  /** `git diff --shortstat base..branch`. */
  diffstat: string;
  /** Remote mode: the remote (its URL without credentials) the branch is pushed to and merged into. */
  remote?: string;
  /** Remote mode: whether the task branch's last commit is on the remote. */
  pushed?: boolean;
  /** Remote mode: where the work is while the remote did not take it (this instance's mirror). */
  kept_in?: { mirror: string; instance: string };
  /** Remote mode, `--merge none`: a page of the forge to review the branch and open a pull request (known forges only). */
  compare_url?: string;
  /** Remote mode: pushes of the merge refused because the remote's branch had moved, each followed by a new merge. */
  merge_retries?: number;
}

/** Token usage with what it cost, at the price table's rates; `cost_usd` null when a model without a price was used (unknown, not 0). */
export type CostedUsage = Usage & { cost_usd: number | null };

/** The output object of ../shared/PROTOCOL.md, JSON-encoded into `results:{id}.output`. */
export interface TaskOutput {
  status: 'completed' | 'partial' | 'failed';
  outcome: Outcome;
  task_id: string;
  workers_used: WorkerName[];
  /** With worktree isolation, what the task's commits changed (base..tip); otherwise the writes that succeeded. */
  files_created: string[];
  files_modified: string[];
  /** Files the task removed (absent in results written before it existed). */
  files_deleted?: string[];
  summary: string;
  issues: string[];
  failed_workers?: WorkerName[];
  skipped_workers?: WorkerName[];
  details: Partial<Record<WorkerName, WorkerDetail>>;
  workspace?: string;
  plan?: { source: string; steps: { worker: WorkerName; depends_on: WorkerName[]; critical: boolean }[] };
  /** All workers' tokens and dollars (the planner's call is not counted in the task). */
  usage?: CostedUsage;
  /** Why the task was stopped short: `budget` (a worker reached the task's budget), `model_api_unavailable` (the deadline came while the breaker was open). */
  reason?: 'budget' | 'model_api_unavailable';
  timings?: { started_at: string; finished_at: string; duration_ms: number };
  error?: string;
  /** With --project: the project folder; `files_created`/`files_modified` are relative to it. */
  project?: string;
  /** With --project: `files_created` as absolute paths under the project (as the seed's examples show them). */
  files_created_abs?: string[];
  files_modified_abs?: string[];
  /** With worktree isolation: the task's branch, commits and merge. */
  git?: TaskGit;
  /** With `--verify`: each check's last run (absent when the deployment declares none). */
  checks?: CheckResult[];
  /** Present only when the offline stand-in (`--model scripted`) did the work, not Claude: says so, so no one takes its placeholder code for real work. */
  stand_in?: string;
}
