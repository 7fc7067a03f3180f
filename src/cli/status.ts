import { loadConfig } from '../config.ts';
import { keysFor } from '../protocol/keys.ts';
import { connectRedis } from '../redis/connection.ts';

export async function runStatus(taskId: string, o: { redis?: string; domain?: string }): Promise<void> {
  const config = loadConfig({ ...(o.redis ? { redisUrl: o.redis } : {}), ...(o.domain ? { domain: o.domain } : {}), model: 'scripted' });
  const keys = keysFor(config.domain);
  const redis = connectRedis(config.redisUrl, 'backend-orchestrator-status');
  try {
    const [record, logs] = await Promise.all([redis.hgetall(keys.result(taskId)), redis.lrange(keys.resultLogs(taskId), 0, -1)]);
    if (Object.keys(record).length === 0 && logs.length === 0) {
      process.stderr.write(`no record of task ${taskId} (results:${taskId} does not exist)\n`);
      process.exitCode = 1;
      return;
    }
    const { output, ...fields } = record;
    process.stdout.write(`${JSON.stringify({ ...fields, output: output ? JSON.parse(output) : undefined, logs }, null, 2)}\n`);
  } finally {
    redis.disconnect();
  }
}
