import { Redis } from 'ioredis';
import { OrchestratorError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { createScrubber } from '../secrets.ts';
import { defineScripts } from './script.ts';

/**
 * A connection that survives outages: commands issued while Redis is away
 * wait in ioredis' offline queue and run after the reconnect, instead of
 * failing the task that issued them. `autoPipelining` sends the commands
 * issued in one tick of the event loop in one write (never on a connection
 * that blocks or subscribes). Our Lua scripts (src/redis/script.ts) are
 * defined on it at once.
 */
export function connectRedis(url: string, name: string, options: { autoPipelining?: boolean; disconnectTimeoutMs?: number } = {}): Redis {
  const redis = new Redis(url, {
    connectionName: name,
    ...(options.disconnectTimeoutMs !== undefined ? { disconnectTimeout: options.disconnectTimeoutMs } : {}),
    maxRetriesPerRequest: null,
    enableOfflineQueue: true,
    enableAutoPipelining: options.autoPipelining ?? false,
    retryStrategy: (times) => Math.min(50 * 2 ** times, 2000),
  });
  defineScripts(redis);
  return redis;
}

/** How long a client command (send, status, cancel, watch, demo --redis) waits for Redis before giving up. */
export const CLIENT_CONNECT_TIMEOUT_MS = 5000;

/** Redis did not answer a client command within its connect timeout: the CLI exits 4 with the message. */
export class RedisUnreachableError extends OrchestratorError {
  // Its own code: a script can tell "Redis is away" from a bad flag (2) or a failed task (1).
  override readonly cliExitCode: number = 4;
}

/** Why a connection did not come up, in a few words a person reads. */
function reasonOf(error: (Error & { code?: string }) | undefined, timeoutMs: number): string {
  const code = error?.code;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'host not found';
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return 'host unreachable';
  if (error && code !== 'ETIMEDOUT') return error.message;
  return `no answer within ${timeoutMs / 1000}s`;
}

/**
 * A connection for a client command: ready within `timeoutMs`, or closed and
 * a RedisUnreachableError naming the URL (its password redacted) and what to
 * check. A connection refused, a host not found and a Redis that accepts the
 * socket but never answers (frozen) all end at the timeout, so a restart of
 * Redis under way is waited for. Its errors are listened to, so ioredis
 * prints no "Unhandled error event"; once up it is connectRedis's connection
 * (an outage later waits in the offline queue).
 */
export async function connectClientRedis(url: string, name: string, timeoutMs = CLIENT_CONNECT_TIMEOUT_MS): Promise<Redis> {
  // A short disconnect timeout: ioredis holds the process that long after a
  // disconnect whose last socket had already failed (2 s by default).
  const redis = connectRedis(url, name, { disconnectTimeoutMs: 100 });
  let lastError: Error | undefined;
  redis.on('error', (error: Error) => (lastError = error));
  const ready = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    redis.once('ready', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
  if (ready) return redis;
  redis.disconnect();
  const auth = lastError && /NOAUTH|WRONGPASS|invalid password|invalid username/i.test(lastError.message);
  throw new RedisUnreachableError(
    `cannot reach Redis at ${createScrubber([])(url)} (${reasonOf(lastError, timeoutMs)}): ${
      auth ? 'check the user and password in the URL' : 'is redis-server running there?'
    } set --redis or REDIS_URL`,
    { cause: lastError },
  );
}

export interface OutageLog {
  /** Watches one more connection under `name`. */
  watch(name: string, conn: Redis): void;
}

export interface OutageLogOptions {
  /** How often an outage that goes on is logged again. Default: a minute. */
  intervalMs?: number;
  /** The clock (tests inject one). */
  now?: () => number;
}

/**
 * Logs an outage of Redis as it is lived, not as it is retried: one line when
 * the first of `connections` is lost, one per `intervalMs` while any stays
 * away, one when all are back. Each connection retries every couple of
 * seconds, and a listener whose Redis is gone for an hour would otherwise
 * write a line per attempt per connection. Driven by the connections' own
 * events, so it holds no timer. `watch` adds a connection opened later: each
 * one is watched from its opening, so even a Redis away at start-up gives
 * these lines and never ioredis's "Unhandled error event".
 */
export function logRedisOutages(connections: Record<string, Redis>, logger: Logger, o: OutageLogOptions = {}): OutageLog {
  const intervalMs = o.intervalMs ?? 60_000;
  const now = o.now ?? Date.now;
  const down = new Set<string>();
  let since = 0;
  let loggedAt = 0;
  let attempts = 0;
  let lastError: string | undefined;

  const lost = (name: string, error?: Error): void => {
    if (error) lastError = error.message;
    if (down.size === 0) {
      since = loggedAt = now();
      down.add(name);
      logger.warn({ connection: name, error: lastError, repeat_ms: intervalMs }, 'redis connection lost');
      return;
    }
    down.add(name);
    if (now() - loggedAt >= intervalMs) {
      loggedAt = now();
      logger.warn({ connections: [...down], down_ms: loggedAt - since, attempts, error: lastError }, 'redis still unreachable');
    }
  };

  const watch = (name: string, conn: Redis): void => {
    conn.on('error', (error: Error) => {
      // A socket error on a working connection (ECONNRESET) comes just before
      // its 'reconnecting': kept for that line rather than logged on its own.
      if (conn.status === 'ready' && !down.has(name)) lastError = error.message;
      else lost(name, error);
    });
    conn.on('reconnecting', () => {
      attempts++;
      lost(name);
    });
    conn.on('ready', () => {
      if (!down.delete(name) || down.size > 0) return;
      logger.info({ down_ms: now() - since, attempts }, 'redis connection back');
      attempts = 0;
      lastError = undefined;
    });
  };
  for (const [name, conn] of Object.entries(connections)) watch(name, conn);
  return { watch };
}
