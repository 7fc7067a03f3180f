import type { Redis } from 'ioredis';
import type { Config } from '../../config.ts';
import type { Logger } from '../../logger.ts';
import { startHealthServer, type HealthServer } from '../../observability/httpServer.ts';
import { createMetrics, type Metrics } from '../../observability/metrics.ts';
import type { Keys } from '../../protocol/keys.ts';
import type { ResourceStack } from '../resources.ts';
import type { ListenerActor } from './listener.ts';

/** The listener's metrics, only with --metrics-port (nothing is counted otherwise). */
export function createListenerMetrics(config: Config, deps: { redis: Redis; keys: Keys; logger: Logger }): Metrics | undefined {
  if (config.metricsPort === undefined) return undefined;
  const { redis, keys } = deps;
  return createMetrics({
    queueDepth: async () => {
      const [pending, active] = await Promise.all([redis.llen(keys.pending), redis.llen(keys.active)]);
      return { pending, active };
    },
    onCollectError: (err) => deps.logger.warn({ err }, 'queue depth unavailable'),
  });
}

/**
 * /metrics and /healthz on --metrics-port, bound before the listener starts:
 * a port that is taken stops start-up before any task is claimed.
 */
export async function startHealth(
  config: Config,
  deps: { metrics: Metrics | undefined; redis: Redis; actor: ListenerActor; logger: Logger },
  stack: ResourceStack,
): Promise<HealthServer | undefined> {
  const { metrics, redis, actor } = deps;
  if (!metrics || config.metricsPort === undefined) return undefined;
  const http = await startHealthServer({
    port: config.metricsPort,
    host: config.metricsHost,
    metrics,
    health: async () => ({
      redis: await redis.ping().then((r) => r === 'PONG', () => false),
      listener: String(actor.getSnapshot().value),
    }),
  });
  stack.add({ name: 'health server', close: () => http.close(), drop: () => http.close() });
  deps.logger.info({ url: http.url }, 'metrics and health at /metrics and /healthz');
  return http;
}
