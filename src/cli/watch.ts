import { readOverview } from '../client/overview.ts';
import { withClient, type ClientFlags } from './client.ts';
import { renderOverview } from './render.ts';

export async function runWatch(o: ClientFlags & { once?: boolean; interval: number }): Promise<void> {
  await withClient(o, 'watch', async ({ config, keys, redis }) => {
    const draw = async () => {
      const lines = renderOverview(
        await readOverview(redis, keys, config.domain),
        process.stdout.columns || 100,
        o.once ? 10_000 : (process.stdout.rows || 40) - 1,
      );
      // Home and clear, then the frame: one write, so the terminal does not flicker.
      process.stdout.write(`${o.once ? '' : '\x1b[H\x1b[2J'}${lines.join('\n')}\n`);
    };
    if (o.once) return draw();
    let stop = false;
    process.once('SIGINT', () => (stop = true));
    process.once('SIGTERM', () => (stop = true));
    while (!stop) {
      await draw();
      await new Promise((r) => setTimeout(r, o.interval));
    }
  });
}
