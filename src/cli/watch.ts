import { readOverview } from '../client/overview.ts';
import { loadConfig } from '../config.ts';
import { keysFor } from '../protocol/keys.ts';
import { connectRedis } from '../redis/connection.ts';
import { renderOverview } from './render.ts';

export async function runWatch(o: { redis?: string; domain?: string; once?: boolean; interval: number }): Promise<void> {
  const config = loadConfig({ ...(o.redis ? { redisUrl: o.redis } : {}), ...(o.domain ? { domain: o.domain } : {}), model: 'scripted' });
  const keys = keysFor(config.domain);
  const redis = connectRedis(config.redisUrl, 'backend-orchestrator-watch');
  const draw = async () => {
    const lines = renderOverview(
      await readOverview(redis, keys, config.domain),
      process.stdout.columns || 100,
      o.once ? 10_000 : (process.stdout.rows || 40) - 1,
    );
    // Home and clear, then the frame: one write, so the terminal does not flicker.
    process.stdout.write(`${o.once ? '' : '\x1b[H\x1b[2J'}${lines.join('\n')}\n`);
  };
  try {
    if (o.once) return await draw();
    let stop = false;
    process.once('SIGINT', () => (stop = true));
    process.once('SIGTERM', () => (stop = true));
    while (!stop) {
      await draw();
      await new Promise((r) => setTimeout(r, o.interval));
    }
  } finally {
    redis.disconnect();
  }
}
