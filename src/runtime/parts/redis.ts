import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import type { Config } from '../../config.ts';
import type { Logger } from '../../logger.ts';
import type { Keys } from '../../protocol/keys.ts';
import { connectRedis, logRedisOutages, type OutageLogOptions } from '../../redis/connection.ts';
import { createProgressWriter, type ProgressWriter } from '../../redis/progress.ts';
import { checkAgentIdFree } from '../../redis/registry.ts';
import type { ResourceStack } from '../resources.ts';
import { logFields } from '../../protocol/taskRef.ts';

/** The listener's connections by role, each named `${agentId}:${role}` in Redis's CLIENT LIST. */
export interface Connections {
  open(role: string, options?: { autoPipelining?: boolean }): Redis;
}

/**
 * Opens connections on the stack: QUIT on a clean stop, dropped at once
 * otherwise. Each is watched by the outage log from its opening: a Redis
 * away at start-up is waited for with one line a minute, as an outage later is.
 */
export function redisConnections(config: Config, stack: ResourceStack, logger: Logger, outageLog?: OutageLogOptions): Connections {
  const outages = logRedisOutages({}, logger, outageLog);
  return {
    open(role, options = {}) {
      const conn = connectRedis(config.redisUrl, `${config.agentId}:${role}`, options);
      outages.watch(role, conn);
      stack.add({ name: `redis ${role} connection`, close: () => conn.quit(), drop: () => conn.disconnect() });
      return conn;
    },
  };
}

/** Before anything else uses the id: a second process under it would take the first one's tasks over. */
export async function checkAgentId(config: Config, redis: Redis, keys: Keys): Promise<{ host: string; pid: number }> {
  const self = { host: hostname(), pid: process.pid };
  await checkAgentIdFree({ redis, keys, agentId: config.agentId }, self);
  return self;
}

/** The tasks' progress log; what is held is written on a clean stop (a cut-short one leaves the checkpoints as they are). */
export function openProgress(config: Config, deps: { redis: Redis; keys: Keys; logger: Logger }, stack: ResourceStack): ProgressWriter {
  const progress = createProgressWriter({
    redis: deps.redis,
    keys: deps.keys,
    flushMs: config.progressFlushMs,
    requireFence: true,
    onError: (err, task) => deps.logger.warn({ err, ...logFields(task) }, 'could not record progress'),
  });
  stack.add({ name: 'progress writer', close: () => progress.flush() });
  return progress;
}
