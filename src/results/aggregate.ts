import type { StepState } from './steps.ts';
import type { Plan } from '../protocol/plan.ts';
import type { CheckResult } from '../protocol/checks.ts';
import { checkNotRun, failingIssues } from './checks.ts';
import { roundUsd } from '../limits/prices.ts';
import { addUsage, ZERO_USAGE, type CostedUsage, type Outcome, type TaskOutput, type WorkerDetail, type WorkerName } from '../protocol/output.ts';

export interface AggregateInput {
  taskId: string;
  plan: Plan | undefined;
  steps: readonly StepState[];
  /** A reason that fails the whole task (rejected input, no matching worker, cancelled ...). */
  failure: string | undefined;
  /** A reason the task was cut short (deadline); the outcome still follows the steps. */
  cutShort: string | undefined;
  workspace: string | undefined;
  /** Set when the deadline came while the model API was unavailable (the breaker open). */
  reason?: 'model_api_unavailable';
  startedAt: number;
  finishedAt: number;
  /** The checks the task was to run (`--verify`); with none, the output has no `checks`. */
  declaredChecks?: readonly string[];
  /** Their latest runs; a declared check with no run is reported as not run. */
  checks?: readonly CheckResult[];
  /** What the fix rounds add to the issues (a fix run that failed, an ignored task check list). */
  checkIssues?: readonly string[];
}

/** The checks as the output shows them: each declared one's latest run, or why it has none. */
function checksOf(input: AggregateInput): CheckResult[] | undefined {
  if (!input.declaredChecks || input.declaredChecks.length === 0) return undefined;
  return input.declaredChecks.map(
    (command) => input.checks?.find((c) => c.command === command) ?? checkNotRun(command, 'the task ended before its checks ran', 0),
  );
}

const unique = (xs: Iterable<string>): string[] => [...new Set(xs)];

/**
 * Merges the workers' results into the protocol's output object and decides
 * the outcome: all succeeded → completed (with warnings when a worker reported
 * issues); a critical step failed, or nothing succeeded → failed; otherwise
 * partial. Files come from the workers' results (the tools' records, or
 * their commits); with a project under git, withProject replaces the
 * task's lists with what its commits changed. Pure.
 */
export function aggregate(input: AggregateInput): TaskOutput {
  const { steps } = input;
  const succeeded = steps.filter((s) => s.status === 'succeeded');
  const failed = steps.filter((s) => s.status === 'failed');
  const skipped = steps.filter((s) => s.status === 'skipped');
  const created = unique(succeeded.concat(failed).flatMap((s) => s.result?.files_created ?? []));
  const createdSet = new Set(created);
  const modified = unique(steps.flatMap((s) => s.result?.files_modified ?? [])).filter((f) => !createdSet.has(f));
  const touched = new Set([...created, ...modified]);
  // Without commits to compare, the order of two workers' writes is unknown: a path one wrote and another removed stays listed as written.
  const deleted = unique(succeeded.concat(failed).flatMap((s) => s.result?.files_deleted ?? [])).filter((f) => !touched.has(f));
  const issues: string[] = [];
  for (const s of steps) for (const i of s.result?.issues ?? []) issues.push(`${s.step.worker}: ${i}`);
  for (const s of failed) issues.push(`${s.step.worker} failed: ${s.error ?? 'unknown error'}`);
  for (const s of skipped) issues.push(`${s.step.worker} ${s.error ?? 'skipped'}`);
  if (input.cutShort) issues.push(input.cutShort);
  const checks = checksOf(input);
  if (checks) issues.push(...failingIssues(checks));
  issues.push(...(input.checkIssues ?? []));

  let outcome: Outcome;
  let error: string | undefined;
  if (input.failure !== undefined) {
    outcome = 'failed';
    error = input.failure;
  } else if (failed.length === 0 && skipped.length === 0 && succeeded.length > 0) {
    outcome = issues.length > 0 ? 'completed_with_warnings' : 'completed';
  } else {
    const criticalFailed = failed.find((s) => s.step.critical);
    outcome = criticalFailed || succeeded.length === 0 ? 'failed' : 'partial';
    const parts = [
      ...failed.map((s) => `${s.step.worker} failed (${s.error ?? 'unknown error'})`),
      ...(skipped.length ? [`skipped ${skipped.map((s) => s.step.worker).join(', ')}`] : []),
    ];
    error = [input.cutShort, parts.join('; ')].filter(Boolean).join(': ');
  }

  const details: Partial<Record<WorkerName, WorkerDetail>> = {};
  let usage = ZERO_USAGE;
  let cost: number | null = 0;
  for (const s of steps) {
    const detail: WorkerDetail = {
      status: s.status === 'succeeded' ? 'succeeded' : s.status === 'failed' ? 'failed' : 'skipped',
      task: s.step.instructions,
      depends_on: s.step.dependsOn,
      attempts: s.attempts,
    };
    if (s.durationMs !== undefined) detail.duration_ms = s.durationMs;
    if (s.error !== undefined) detail.error = s.error;
    if (s.result) {
      detail.summary = s.result.summary;
      detail.files_created = s.result.files_created;
      detail.files_modified = s.result.files_modified;
      if (s.result.files_deleted) detail.files_deleted = s.result.files_deleted;
      detail.issues = s.result.issues;
      if (s.result.report) detail.report = s.result.report;
      if (s.result.commit) detail.commit = s.result.commit;
    }
    // Every attempt's spend (a resumed task's finished workers: their result's).
    const spent = s.spent ?? (s.result ? { usage: s.result.usage, cost_usd: s.result.cost_usd === undefined ? 0 : s.result.cost_usd } : undefined);
    if (spent) {
      detail.usage = { ...spent.usage, cost_usd: spent.cost_usd === null ? null : roundUsd(spent.cost_usd) } satisfies CostedUsage;
      usage = addUsage(usage, spent.usage);
      // Unknown once any worker used a model without a price: a partial sum would read as the whole.
      cost = cost === null || spent.cost_usd === null ? null : cost + spent.cost_usd;
    }
    details[s.step.worker] = detail;
  }

  const summary =
    input.failure !== undefined
      ? `Task failed: ${input.failure}`
      : succeeded.map((s) => `${s.step.worker}: ${s.result?.summary ?? 'done'}`).join('\n') ||
        'No worker finished its part.';

  const output: TaskOutput = {
    status: outcome === 'completed_with_warnings' ? 'completed' : outcome,
    outcome,
    task_id: input.taskId,
    workers_used: steps.filter((s) => s.status !== 'skipped' && s.attempts > 0).map((s) => s.step.worker),
    files_created: created,
    files_modified: modified,
    files_deleted: deleted,
    summary,
    issues,
    details,
    usage: { ...usage, cost_usd: cost === null ? null : roundUsd(cost) },
    timings: {
      started_at: new Date(input.startedAt).toISOString(),
      finished_at: new Date(input.finishedAt).toISOString(),
      duration_ms: input.finishedAt - input.startedAt,
    },
  };
  if (failed.length) output.failed_workers = failed.map((s) => s.step.worker);
  if (skipped.length) output.skipped_workers = skipped.map((s) => s.step.worker);
  if (input.workspace) output.workspace = input.workspace;
  if (input.plan) {
    output.plan = {
      source: input.plan.source,
      steps: input.plan.steps.map((s) => ({ worker: s.worker, depends_on: s.dependsOn, critical: s.critical })),
    };
  }
  if (checks) output.checks = checks;
  if (error !== undefined) output.error = error;
  if (steps.some((s) => s.stoppedBy === 'budget')) output.reason = 'budget';
  else if (input.reason) output.reason = input.reason;
  return output;
}
