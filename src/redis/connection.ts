import { Redis } from 'ioredis';

/**
 * A connection that survives outages: commands issued while Redis is away
 * wait in ioredis' offline queue and run after the reconnect, instead of
 * failing the task that issued them.
 */
export function connectRedis(url: string, name: string): Redis {
  return new Redis(url, {
    connectionName: name,
    maxRetriesPerRequest: null,
    enableOfflineQueue: true,
    retryStrategy: (times) => Math.min(50 * 2 ** times, 2000),
  });
}
