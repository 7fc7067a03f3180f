import type { Logger } from '../logger.ts';
import type { TaskWorkspaces } from '../project/taskWorkspaces.ts';
import type { CheckResult } from '../protocol/checks.ts';
import { logFields } from '../protocol/taskRef.ts';
import { checkNotRun, checkResultOf, latestRuns, type CheckRun, type RunChecksInput } from '../results/checks.ts';

export type { RunChecksInput } from '../results/checks.ts';
import { RUN_OUTPUT_BYTES } from '../workers/box/protocol.ts';
import { runSandboxed } from '../workers/sandbox/execute.ts';
import type { Sandbox, SandboxLimits } from '../workers/sandbox/sandbox.ts';

export interface CheckRunnerDeps {
  logger: Logger;
  sandbox: Sandbox;
  workspaces: TaskWorkspaces | undefined;
  timeoutMs: number;
  env: Record<string, string>;
  limits: SandboxLimits;
  proxySocket?: string;
  scrub(text: string): string;
}

export type RunChecks = (input: RunChecksInput, signal: AbortSignal) => Promise<CheckResult[]>;

/**
 * Runs a task's checks one after another where its workers worked: in its
 * box (box isolation: TaskBox.run, the box's limits), else through the
 * sandbox the Bash tool uses there, with the same binds. Every check runs,
 * a failing one too, so the output says how each stands; a check that
 * cannot start at all (the box died) is failed with the reason, not thrown.
 */
export function createCheckRunner(deps: CheckRunnerDeps): RunChecks {
  const { logger, sandbox, workspaces, timeoutMs, scrub } = deps;
  return async (input, signal) => {
    const place = workspaces
      ? await workspaces.prepare(input.ref, signal)
      : { dir: input.workspace, sandbox: { writable: [input.workspace], readOnly: [] } };
    const runs: CheckResult[] = [];
    for (const command of input.commands) {
      let run: CheckRun;
      try {
        run = place.box
          ? await place.box.run(command, timeoutMs, signal)
          : await runSandboxed(
              sandbox,
              { command, binds: place.sandbox, env: deps.env, limits: deps.limits, ...(deps.proxySocket ? { proxySocket: deps.proxySocket } : {}) },
              { timeoutMs, maxOutputBytes: RUN_OUTPUT_BYTES, keep: 'tail' },
              signal,
            );
      } catch (error) {
        if (signal.aborted) throw error;
        const why = scrub(error instanceof Error ? error.message : String(error));
        logger.warn({ ...logFields(input.ref), command, err: error }, 'a check could not run');
        runs.push(checkNotRun(command, why, 1));
        continue;
      }
      if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('aborted');
      runs.push(checkResultOf(command, run, { rounds: 1, timeoutMs, scrub }));
    }
    // Each check's count of runs goes on from the earlier rounds'.
    return latestRuns(input.previous, runs);
  };
}
