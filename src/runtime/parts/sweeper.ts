import type { Logger } from '../../logger.ts';
import type { TaskWorkspaces } from '../../project/taskWorkspaces.ts';
import type { ResourceStack } from '../resources.ts';

/** How often merged task branches older than --keep-branches are looked for, after the sweep at start-up. */
export const BRANCH_SWEEP_INTERVAL_MS = 3_600_000;

/** Merged task branches are deleted once --keep-branches has passed: at start-up, then every BRANCH_SWEEP_INTERVAL_MS. */
export function startSweeper(workspaces: TaskWorkspaces | undefined, logger: Logger, stack: ResourceStack, intervalMs = BRANCH_SWEEP_INTERVAL_MS): void {
  if (workspaces === undefined) return;
  const sweep = () => void workspaces.sweepBranches().catch((error: unknown) => logger.warn({ err: error }, 'could not clean up merged task branches'));
  sweep();
  const sweeper = setInterval(sweep, intervalMs);
  sweeper.unref();
  stack.add({ name: 'branch sweeper', close: () => clearInterval(sweeper), drop: () => clearInterval(sweeper) });
}
