import { loadConfig } from '../config.ts';
import { keysFor } from '../protocol/keys.ts';
import { cancelTask } from '../redis/cancel.ts';
import { connectRedis } from '../redis/connection.ts';

export async function runCancel(taskId: string, o: { redis?: string; domain?: string; reason: string }): Promise<void> {
  const config = loadConfig({ ...(o.redis ? { redisUrl: o.redis } : {}), ...(o.domain ? { domain: o.domain } : {}), model: 'scripted' });
  const keys = keysFor(config.domain);
  const redis = connectRedis(config.redisUrl, 'backend-orchestrator-cancel');
  try {
    const where = await cancelTask(redis, keys, `${config.agentId}-cli`, taskId, o.reason);
    const says = {
      queued: `task ${taskId} was still queued: removed and published as failed (${o.reason})`,
      running: `task ${taskId} is running: its holder was told to stop it; it publishes failed (${o.reason})`,
      unknown: `task ${taskId} is neither queued on ${keys.pending} nor running: nothing to cancel`,
    }[where];
    process.stderr.write(`${says}\n`);
    if (where === 'unknown') process.exitCode = 1;
  } finally {
    redis.disconnect();
  }
}
