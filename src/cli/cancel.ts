import { cancelTask } from '../client/cancel.ts';
import { taskIdOrSay, withClient, type ClientFlags } from './client.ts';

export async function runCancel(typed: string, o: ClientFlags & { reason: string }): Promise<void> {
  await withClient(o, 'cancel', async ({ config, keys, redis }) => {
    const taskId = await taskIdOrSay(redis, keys, typed);
    if (taskId === undefined) return;
    const where = await cancelTask(redis, keys, `${config.agentId}-cli`, taskId, o.reason);
    const says = {
      queued: `task ${taskId} was still queued: removed and published as failed (${o.reason})`,
      running: `task ${taskId} is running: its holder was told to stop it; it publishes failed (${o.reason})`,
      unknown: `task ${taskId} is neither queued on ${keys.pending} nor running: nothing to cancel`,
    }[where];
    process.stderr.write(`${says}\n`);
    if (where === 'unknown') process.exitCode = 1;
  });
}
