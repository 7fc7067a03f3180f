import { loadConfig } from '../config.ts';
import { checkBinding } from '../console/access.ts';
import { startConsoleServer } from '../console/server.ts';
import { createLogger } from '../logger.ts';
import { keysFor } from '../protocol/keys.ts';
import { connectRedis } from '../redis/connection.ts';
import type { ClientFlags } from './client.ts';

export interface ConsoleFlags extends ClientFlags {
  port?: number;
  host?: string;
  token?: string;
}

/** `console`: the web console until SIGINT or SIGTERM. */
export async function runConsole(o: ConsoleFlags): Promise<void> {
  const config = loadConfig({
    ...(o.redis ? { redisUrl: o.redis } : {}),
    ...(o.domain ? { domain: o.domain } : {}),
    ...(o.port !== undefined ? { consolePort: o.port } : {}),
    ...(o.host !== undefined ? { consoleHost: o.host } : {}),
    ...(o.token !== undefined ? { consoleToken: o.token } : {}),
  }, process.env, { redisUrl: '--redis', domain: '--domain', consolePort: '--port', consoleHost: '--host', consoleToken: '--token' });
  checkBinding(config.consoleHost, config.consoleToken);
  const logger = createLogger(config.logLevel);
  const redis = connectRedis(config.redisUrl, 'backend-orchestrator-console');
  const subscriber = connectRedis(config.redisUrl, 'backend-orchestrator-console-sub');
  // ioredis reconnects by itself; one line per outage, not one per retry.
  let down = false;
  for (const connection of [redis, subscriber]) {
    connection.on('error', (error: Error) => {
      if (!down) logger.warn({ err: error.message }, 'console: Redis is not reachable; retrying');
      down = true;
    });
    connection.on('ready', () => (down = false));
  }
  try {
    const server = await startConsoleServer({
      redis,
      subscriber,
      keys: keysFor(config.domain),
      domain: config.domain,
      host: config.consoleHost,
      port: config.consolePort,
      token: config.consoleToken,
      agentId: `${config.agentId}-console`,
      logger,
    });
    process.stderr.write(`console for domain ${config.domain} on ${config.redisUrl}: open ${server.url}/${config.consoleToken ? ' (add ?token=<your token> once)' : ''}\n`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await server.close();
  } finally {
    redis.disconnect();
    subscriber.disconnect();
  }
}
