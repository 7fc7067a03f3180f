import path from 'node:path';
import type { Outcome, TaskGit, TaskOutput, WORKER_NAMES } from '../protocol/output.ts';

export interface ProjectView {
  /** Absolute path of the project folder. */
  project: string;
  git?: TaskGit | undefined;
  /** What the task's commits changed (base..tip; all empty when nothing was committed): replaces the workers' lists. */
  files?: { created: string[]; modified: string[]; deleted: string[] } | undefined;
  /** Something a person must do (a conflict, a merge left undone): becomes an issue, and `completed` becomes `completed_with_warnings`. */
  warning?: string | undefined;
}

/** Commits per worker, from the details the aggregate copied out of the workers' results. */
export function workerCommits(output: TaskOutput): TaskGit['commits'] {
  const commits: TaskGit['commits'] = {};
  for (const [worker, detail] of Object.entries(output.details) as [(typeof WORKER_NAMES)[number], { commit?: string }][]) {
    if (detail.commit) commits[worker] = detail.commit;
  }
  return commits;
}

/**
 * The output as seen from the project: the task's files from its commits
 * when there are any to compare, also as absolute paths under
 * the project folder (where they are once merged, as in the seed's
 * examples), the `git` object, and a warning that tells a person what to do.
 * Pure.
 */
export function withProject(output: TaskOutput, view: ProjectView): TaskOutput {
  const abs = (files: string[]) => files.map((f) => path.join(view.project, f));
  const files = view.files
    ? { files_created: view.files.created, files_modified: view.files.modified, files_deleted: view.files.deleted }
    : { files_created: output.files_created, files_modified: output.files_modified };
  const next: TaskOutput = {
    ...output,
    ...files,
    workspace: view.project,
    project: view.project,
    files_created_abs: abs(files.files_created),
    files_modified_abs: abs(files.files_modified),
  };
  if (view.git) next.git = view.git;
  if (view.warning) {
    next.issues = [...output.issues, view.warning];
    const outcome: Outcome = output.outcome === 'completed' ? 'completed_with_warnings' : output.outcome;
    next.outcome = outcome;
  }
  return next;
}
