import { Redis } from 'ioredis';

/**
 * A connection that survives outages: commands issued while Redis is away
 * wait in ioredis' offline queue and run after the reconnect, instead of
 * failing the task that issued them. `autoPipelining` sends the commands
 * issued in one tick of the event loop in one write (never on a connection
 * that blocks or subscribes).
 */
export function connectRedis(url: string, name: string, options: { autoPipelining?: boolean } = {}): Redis {
  return new Redis(url, {
    connectionName: name,
    maxRetriesPerRequest: null,
    enableOfflineQueue: true,
    enableAutoPipelining: options.autoPipelining ?? false,
    retryStrategy: (times) => Math.min(50 * 2 ** times, 2000),
  });
}
