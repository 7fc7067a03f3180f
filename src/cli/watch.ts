import { readOverview } from '../client/overview.ts';
import { readTaskWatch } from '../client/taskWatch.ts';
import { taskIdOrSay, withClient, type ClientFlags } from './client.ts';
import { renderOverview, renderTask } from './render.ts';

/**
 * `watch`: the domain's tasks in flight, redrawn every `interval`. `watch
 * <task-id>` (any unambiguous prefix, as status and cancel take): that one
 * task, until its result is published (exit 0 completed, 1 failed).
 */
export async function runWatch(typed: string | undefined, o: ClientFlags & { once?: boolean; interval: number }): Promise<void> {
  await withClient(o, 'watch', async ({ config, keys, redis }) => {
    const taskId = typed === undefined ? undefined : await taskIdOrSay(redis, keys, typed);
    if (typed !== undefined && taskId === undefined) return;
    const width = () => process.stdout.columns || 100;
    const height = () => (o.once ? 10_000 : (process.stdout.rows || 40) - 1);
    // Home and clear, then the frame: one write, so the terminal does not flicker.
    const show = (lines: string[]) => process.stdout.write(`${o.once ? '' : '\x1b[H\x1b[2J'}${lines.join('\n')}\n`);
    /** Draws a frame; true once there is nothing more to wait for (the one task finished). */
    const draw = async (): Promise<boolean> => {
      if (taskId === undefined) {
        show(renderOverview(await readOverview(redis, keys, config.domain), width(), height()));
        return false;
      }
      const task = await readTaskWatch(redis, keys, taskId, height(), Date.now());
      if (task.where === 'unknown') {
        process.stderr.write(`no task ${taskId} on domain ${config.domain}: nothing queued, running or published under that id; check it (and --domain)\n`);
        process.exitCode = 1;
        return true;
      }
      show(renderTask(task, config.domain, width(), height()));
      if (task.where !== 'finished') return false;
      process.exitCode = task.result?.status === 'completed' ? 0 : 1;
      return true;
    };
    if (o.once) {
      await draw();
      return;
    }
    let stop = false;
    process.once('SIGINT', () => (stop = true));
    process.once('SIGTERM', () => (stop = true));
    while (!stop) {
      if (await draw()) return;
      await new Promise((r) => setTimeout(r, o.interval));
    }
  });
}
