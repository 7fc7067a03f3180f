import type { Redis } from 'ioredis';
import { loadConfig, type Config } from '../config.ts';
import { keysFor, type Keys } from '../protocol/keys.ts';
import { connectClientRedis } from '../redis/connection.ts';

export interface ClientFlags {
  redis?: string;
  domain?: string;
}

/**
 * What every client command (send, status, cancel, watch) needs: the checked
 * config from the global flags, the domain's key names and a connection,
 * closed whatever `use` does. A Redis that does not answer within
 * CLIENT_CONNECT_TIMEOUT_MS ends the command (RedisUnreachableError, exit 4).
 */
export async function withClient<T>(
  flags: ClientFlags,
  name: string,
  use: (c: { config: Config; keys: Keys; redis: Redis }) => Promise<T>,
): Promise<T> {
  const config = loadConfig({ ...(flags.redis ? { redisUrl: flags.redis } : {}), ...(flags.domain ? { domain: flags.domain } : {}) });
  const redis = await connectClientRedis(config.redisUrl, `backend-orchestrator-${name}`);
  try {
    return await use({ config, keys: keysFor(config.domain), redis });
  } finally {
    redis.disconnect();
  }
}
