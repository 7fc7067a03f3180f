import { cancelTask } from '../client/cancel.ts';
import { taskIdOrSay, withClient, type ClientFlags } from './client.ts';

export async function runCancel(typed: string, o: ClientFlags & { reason: string }): Promise<void> {
  await withClient(o, 'cancel', async ({ config, keys, redis }) => {
    const taskId = await taskIdOrSay(redis, keys, typed);
    if (taskId === undefined) return;
    const where = await cancelTask(redis, keys, `${config.agentId}-cli`, taskId, o.reason);
    if (typeof where === 'object') {
      // Exit 0: the task is not running, which is what cancel is for; cancelling twice is not a mistake.
      const { status, outcome, completedAt } = where.finished;
      const how = `already ${status}${outcome && outcome !== status ? ` (${outcome})` : ''}${completedAt ? ` at ${completedAt}` : ''}`;
      process.stderr.write(`task ${taskId} ${how}: nothing to cancel; its result: backend-orchestrator status ${taskId}\n`);
      return;
    }
    const says = {
      queued: `task ${taskId} was still queued: removed and published as failed (${o.reason})`,
      running: `task ${taskId} is running: its holder was told to stop it; it publishes failed (${o.reason})`,
      unknown: `task ${taskId} is neither queued on ${keys.pending} nor running, and has no result: nothing to cancel; check the id (\`status ${taskId}\`) and --domain`,
    }[where];
    process.stderr.write(`${says}\n`);
    if (where === 'unknown') process.exitCode = 1;
  });
}
