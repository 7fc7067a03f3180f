import type { Redis } from 'ioredis';
import { AmbiguousTaskIdError, resolveTaskId } from '../client/resolveTaskId.ts';
import { loadConfig, type Config } from '../config.ts';
import { keysFor, type Keys } from '../protocol/keys.ts';
import { connectClientRedis } from '../redis/connection.ts';

export interface ClientFlags {
  redis?: string;
  domain?: string;
}

/** The options a client command's global flags set, by the flag a person typed (for a bad value's message). */
export const CLIENT_FLAGS: Readonly<Record<string, string>> = { redisUrl: '--redis', domain: '--domain' };

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
  const config = loadConfig({ ...(flags.redis ? { redisUrl: flags.redis } : {}), ...(flags.domain ? { domain: flags.domain } : {}) }, process.env, CLIENT_FLAGS);
  const redis = await connectClientRedis(config.redisUrl, `backend-orchestrator-${name}`);
  try {
    return await use({ config, keys: keysFor(config.domain), redis });
  } finally {
    redis.disconnect();
  }
}

/**
 * The task id `typed` means (a prefix works, resolveTaskId); undefined when
 * it is ambiguous, after saying so on stderr with exit code 1.
 */
export async function taskIdOrSay(redis: Redis, keys: Keys, typed: string): Promise<string | undefined> {
  try {
    return await resolveTaskId(redis, keys, typed);
  } catch (error) {
    if (!(error instanceof AmbiguousTaskIdError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exitCode = 1;
    return undefined;
  }
}
