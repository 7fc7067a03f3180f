import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Metrics } from './metrics.ts';

export interface Health {
  /** Redis answered (a PING). */
  redis: boolean;
  /** The listener actor's state value (`listening`, `draining` ...). */
  listener: string;
}

export interface HealthServerOptions {
  /** 0 picks a free port (tests); `url` tells which. */
  port: number;
  /** Default 127.0.0.1: metrics are not for the whole network unless asked (`0.0.0.0` in a container). */
  host?: string;
  metrics: Pick<Metrics, 'registry'>;
  health: () => Promise<Health>;
  /** A health check that has not answered by then is a failure (a hung Redis must not hang probes). Default 2000. */
  healthTimeoutMs?: number;
}

export interface HealthServer {
  /** e.g. http://127.0.0.1:9464 */
  readonly url: string;
  /** Stops listening and drops open connections; a second call returns the first one's promise. */
  close(): Promise<void>;
}

/** Listener states in which it claims or is about to claim again. */
export const RUNNING_STATES: readonly string[] = ['listening', 'saturated', 'claimBackoff'];

function send(res: ServerResponse, status: number, contentType: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store', ...headers });
  res.end(body);
}

const json = (res: ServerResponse, status: number, body: unknown) => send(res, status, 'application/json; charset=utf-8', `${JSON.stringify(body)}\n`);

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function healthz(res: ServerResponse, o: HealthServerOptions): Promise<void> {
  let health: Health;
  try {
    health = await withTimeout(o.health(), o.healthTimeoutMs ?? 2000, 'the health check');
  } catch (error) {
    json(res, 503, { status: 'unavailable', reasons: [error instanceof Error ? error.message : String(error)] });
    return;
  }
  const reasons: string[] = [];
  if (!health.redis) reasons.push('redis is not reachable');
  if (!RUNNING_STATES.includes(health.listener)) {
    reasons.push(`the listener is ${health.listener}, not one of ${RUNNING_STATES.join(', ')}`);
  }
  json(res, reasons.length ? 503 : 200, { status: reasons.length ? 'unavailable' : 'ok', ...health, ...(reasons.length ? { reasons } : {}) });
}

async function metricsText(res: ServerResponse, o: HealthServerOptions): Promise<void> {
  try {
    const text = await o.metrics.registry.metrics();
    send(res, 200, o.metrics.registry.contentType, text);
  } catch (error) {
    send(res, 500, 'text/plain; charset=utf-8', `could not collect metrics: ${error instanceof Error ? error.message : String(error)}\n`);
  }
}

const ROUTES: Record<string, (res: ServerResponse, o: HealthServerOptions) => Promise<void>> = {
  '/metrics': metricsText,
  '/healthz': healthz,
};

/**
 * A small HTTP server for the platform: `GET /metrics` (Prometheus text) and
 * `GET /healthz` (200 when Redis answers and the listener is in a running
 * state, else 503; the JSON body says why). Anything else is 404.
 *
 * @example
 * const server = await startHealthServer({ port: 9464, metrics, health: async () => ({ redis: (await redis.ping()) === 'PONG', listener: String(actor.getSnapshot().value) }) });
 * // ... on shutdown
 * await server.close();
 */
export async function startHealthServer(options: HealthServerOptions): Promise<HealthServer> {
  const o = { host: '127.0.0.1', ...options };
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65_535) {
    throw new RangeError(`port must be a whole number from 0 to 65535, got ${o.port}`);
  }
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const route = ROUTES[path];
    if (!route) return json(res, 404, { error: `no ${path} here: try /metrics or /healthz` });
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain; charset=utf-8', 'use GET\n', { allow: 'GET, HEAD' });
    void route(res, o);
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new Error(`port ${o.port} on ${o.host} is already in use: choose another port for the metrics server`, { cause: error })
          : error,
      );
    server.once('error', onError);
    server.listen(o.port, o.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const { address, port } = server.address() as AddressInfo;
  const url = `http://${address.includes(':') ? `[${address}]` : address}:${port}`;

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      // Prometheus keeps connections alive: without this, close() waits for them to time out.
      server.closeAllConnections();
    }));
  return { url, close };
}
