import { Redis } from 'ioredis';
import type { Logger } from '../logger.ts';
import { defineScripts } from './script.ts';

/**
 * A connection that survives outages: commands issued while Redis is away
 * wait in ioredis' offline queue and run after the reconnect, instead of
 * failing the task that issued them. `autoPipelining` sends the commands
 * issued in one tick of the event loop in one write (never on a connection
 * that blocks or subscribes). Our Lua scripts (src/redis/script.ts) are
 * defined on it at once.
 */
export function connectRedis(url: string, name: string, options: { autoPipelining?: boolean } = {}): Redis {
  const redis = new Redis(url, {
    connectionName: name,
    maxRetriesPerRequest: null,
    enableOfflineQueue: true,
    enableAutoPipelining: options.autoPipelining ?? false,
    retryStrategy: (times) => Math.min(50 * 2 ** times, 2000),
  });
  defineScripts(redis);
  return redis;
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
 * events, so it holds no timer.
 */
export function logRedisOutages(connections: Record<string, Redis>, logger: Logger, o: OutageLogOptions = {}): void {
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

  for (const [name, conn] of Object.entries(connections)) {
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
  }
}
