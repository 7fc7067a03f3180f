import { afterEach, describe, expect, it } from 'vitest';
import { startHealthServer, type Health } from '../../src/observability/httpServer.ts';
import { createMetrics } from '../../src/observability/metrics.ts';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const metrics = createMetrics({ defaultMetrics: false });

async function serve(health: () => Promise<Health>, healthTimeoutMs?: number) {
  const server = await startHealthServer({ port: 0, metrics, health, ...(healthTimeoutMs ? { healthTimeoutMs } : {}) });
  cleanups.push(server.close);
  return server;
}

async function get(url: string, init?: RequestInit) {
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type'), text, json: () => JSON.parse(text) as Record<string, unknown> };
}

describe('/healthz', () => {
  it.each(['listening', 'saturated', 'claimBackoff'])('is 200 when redis answers and the listener is %s', async (listener) => {
    const server = await serve(async () => ({ redis: true, listener }));
    const res = await get(`${server.url}/healthz`);
    expect(res.status).toBe(200);
    expect(res.type).toBe('application/json; charset=utf-8');
    expect(res.json()).toEqual({ status: 'ok', redis: true, listener });
  });

  it('is 503 when redis does not answer, and says so', async () => {
    const server = await serve(async () => ({ redis: false, listener: 'listening' }));
    const res = await get(`${server.url}/healthz`);
    expect(res.status).toBe(503);
    expect(res.json()).toEqual({ status: 'unavailable', redis: false, listener: 'listening', reasons: ['redis is not reachable'] });
  });

  it.each(['connecting', 'reconnecting', 'draining', 'stopped'])('is 503 when the listener is %s', async (listener) => {
    const server = await serve(async () => ({ redis: true, listener }));
    const res = await get(`${server.url}/healthz`);
    expect(res.status).toBe(503);
    expect(res.json().reasons).toEqual([`the listener is ${listener}, not one of listening, saturated, claimBackoff`]);
  });

  it('is 503 when the check throws or hangs', async () => {
    const throwing = await serve(async () => {
      throw new Error('connection is closed');
    });
    expect((await get(`${throwing.url}/healthz`)).json()).toEqual({ status: 'unavailable', reasons: ['connection is closed'] });
    const hanging = await serve(() => new Promise<Health>(() => undefined), 50);
    const res = await get(`${hanging.url}/healthz`);
    expect(res.status).toBe(503);
    expect(res.json().reasons).toEqual(['the health check did not answer within 50 ms']);
  });
});

describe('the health server', () => {
  it('answers 404 elsewhere and 405 to other methods', async () => {
    const server = await serve(async () => ({ redis: true, listener: 'listening' }));
    const missing = await get(`${server.url}/nope`);
    expect(missing.status).toBe(404);
    expect(missing.json().error).toMatch(/try \/metrics or \/healthz/);
    const post = await get(`${server.url}/metrics`, { method: 'POST' });
    expect(post.status).toBe(405);
  });

  it('listens on 127.0.0.1 by default and reports the port it got', async () => {
    const server = await serve(async () => ({ redis: true, listener: 'listening' }));
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.url).not.toMatch(/:0$/);
  });

  it('close() can be called twice and stops answering', async () => {
    const server = await startHealthServer({ port: 0, metrics, health: async () => ({ redis: true, listener: 'listening' }) });
    expect((await get(`${server.url}/healthz`)).status).toBe(200); // leaves a keep-alive connection open
    const first = server.close();
    expect(server.close()).toBe(first);
    await first;
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
  });

  it('names the port when it is taken', async () => {
    const taken = await serve(async () => ({ redis: true, listener: 'listening' }));
    const port = Number(new URL(taken.url).port);
    await expect(startHealthServer({ port, metrics, health: async () => ({ redis: true, listener: 'listening' }) })).rejects.toThrow(
      `port ${port} on 127.0.0.1 is already in use: choose another port for the metrics server`,
    );
  });

  it('rejects a port out of range', async () => {
    await expect(startHealthServer({ port: 70_000, metrics, health: async () => ({ redis: true, listener: 'x' }) })).rejects.toThrow(
      'port must be a whole number from 0 to 65535, got 70000',
    );
  });
});
