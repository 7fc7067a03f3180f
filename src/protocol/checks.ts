/**
 * The project's own checks (`--verify`), run in a task's box after its
 * workers and before the merge (issue "Verified results"). This file is the
 * contract between the check runner, the task machine, the fix-round prompt,
 * the offline stand-in, `status`, `watch` and the console.
 */

/** One check as the output's `checks` array shows it. */
export interface CheckResult {
  /** The command as declared (`--verify`, the config file, or an allowed `payload.context.verify`). */
  command: string;
  passed: boolean;
  /** The command's exit code; null when it never ran to an exit (not found, time limit, killed). */
  exit_code: number | null;
  duration_ms: number;
  /** How many runs of the check this task made: 1 + the fix rounds that ran it again. */
  rounds: number;
  /** The last lines of its output (stdout and stderr interleaved), trimmed and scrubbed. */
  output_tail: string;
  /** Why the check could not run at all (`command not found: …`, `time limit of 120 s reached`); absent when it ran. */
  error?: string;
}

/**
 * The heading under which a fix round's prompt lists the checks that failed
 * (each as `$ <command>` + exit code + output tail). The offline stand-in
 * looks for it to play the fix.
 */
export const FIX_ROUND_HEADING = '## Checks that failed';

/** Checkpoint field (JSON CheckResult[] of the latest run of each check) that `watch` and the console read while a task runs. */
export const CHECKS_FIELD = 'checks';
