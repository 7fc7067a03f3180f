import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildTaskMessage, sendTask } from '../../src/client/send.ts';
import { ConfigError } from '../../src/errors.ts';
import { checkBinding } from '../../src/console/access.ts';
import { startConsoleServer, type ConsoleServer } from '../../src/console/server.ts';
import { readTaskDetail } from '../../src/console/taskDetail.ts';
import { runCli } from '../support/cli.ts';
import { cleanupsAfterEach, client, eventually, freshDomain, redisUrl } from '../support/redis.ts';

const cleanups = cleanupsAfterEach();

async function consoleOn(token?: string) {
  const { domain, keys } = freshDomain();
  const redis = client();
  const subscriber = client();
  const server: ConsoleServer = await startConsoleServer({ redis, subscriber, keys, domain, host: '127.0.0.1', port: 0, token, pollMs: 100, agentId: `${domain}-console` });
  cleanups.push(async () => {
    await server.close();
    redis.disconnect();
    subscriber.disconnect();
  });
  const csrf = /name="csrf-token" content="([^"]+)"/.exec(await (await fetch(`${server.url}/`)).text())?.[1];
  return { domain, keys, redis, server, csrf: csrf! };
}

/** A request with a Host header of our choosing (fetch does not allow setting it). */
function withHost(url: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('console server', () => {
  it('refuses to bind beyond loopback without a token, naming the option', async () => {
    expect(() => checkBinding('0.0.0.0', undefined)).toThrow(ConfigError);
    expect(() => checkBinding('0.0.0.0', undefined)).toThrow(/--token/);
    expect(() => checkBinding('0.0.0.0', 'a-long-enough-secret')).not.toThrow();
    expect(() => checkBinding('127.0.0.1', undefined)).not.toThrow();
    const run = await runCli(['console', '--host', '0.0.0.0', '--redis', redisUrl(), '--port', '0']);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('--token');
  }, 30_000);

  it('runs as a command: prints its address, serves, and exits cleanly on SIGTERM', async () => {
    const { domain } = freshDomain();
    const child = spawn(process.execPath, [resolve(import.meta.dirname, '../../bin/backend-orchestrator.mjs'), 'console', '--redis', redisUrl(), '--domain', domain, '--port', '0'], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ORCH_CONSOLE_TOKEN: 'token-from-the-environment' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    cleanups.push(async () => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    let err = '';
    const url = await new Promise<string>((resolveUrl, reject) => {
      child.stderr!.on('data', (c: Buffer) => {
        err += c.toString();
        const m = /open (http:\/\/127\.0\.0\.1:\d+)\//.exec(err);
        if (m) resolveUrl(m[1]!);
      });
      void exited.then(() => reject(new Error(`console exited: ${err}`)));
    });
    // The token came from ORCH_CONSOLE_TOKEN.
    expect((await fetch(`${url}/api/overview`)).status).toBe(401);
    const res = await fetch(`${url}/api/overview`, { headers: { authorization: 'Bearer token-from-the-environment' } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { domain: string }).domain).toBe(domain);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 30_000);

  it('answers only to loopback host names when bound to loopback (DNS rebinding)', async () => {
    const { server } = await consoleOn();
    const port = new URL(server.url).port;
    expect(await withHost(`${server.url}/`, `evil.example:${port}`)).toBe(421);
    expect(await withHost(`${server.url}/`, `localhost:${port}`)).toBe(200);
  });

  it('takes actions only with the CSRF token of its pages, as JSON, and says why not', async () => {
    const { server, csrf, redis, keys, domain } = await consoleOn();
    const m = buildTaskMessage({ description: 'Create user registration endpoint' }, domain);
    await sendTask(redis, keys, m);
    const cancel = (headers: Record<string, string>, body = '{}') =>
      fetch(`${server.url}/api/task/${m.task_id}/cancel`, { method: 'POST', headers, body });
    expect((await cancel({ 'content-type': 'application/json' })).status).toBe(403);
    expect((await cancel({ 'content-type': 'application/json', 'x-csrf-token': 'guess' })).status).toBe(403);
    expect((await cancel({ 'content-type': 'text/plain', 'x-csrf-token': csrf })).status).toBe(415);
    expect((await cancel({ 'content-type': 'application/json', 'x-csrf-token': csrf }, '[1')).status).toBe(400);
    expect(await redis.llen(keys.pending)).toBe(1);
    const ok = await cancel({ 'content-type': 'application/json', 'x-csrf-token': csrf });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ cancelled: 'queued' });
    expect(await redis.llen(keys.pending)).toBe(0);
    const again = await cancel({ 'content-type': 'application/json', 'x-csrf-token': csrf });
    expect(again.status).toBe(409);
    expect(((await again.json()) as { error: string }).error).toContain('nothing to cancel');
    const big = await fetch(`${server.url}/api/dead-letters/discard`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
      body: JSON.stringify({ entry: 'x'.repeat(2 * 1024 * 1024) }),
    });
    expect(big.status).toBe(413);
    const gone = await fetch(`${server.url}/api/dead-letters/discard`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
      body: JSON.stringify({ entry: 'not in the list' }),
    });
    expect(gone.status).toBe(409);
  });

  it('serves its pages with a policy that allows only its own scripts and styles', async () => {
    const { server } = await consoleOn();
    const page = await fetch(`${server.url}/task/some-id`);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await page.text();
    expect(html).toContain('src="/static/console.js"');
    expect(html).not.toMatch(/https?:\/\/(?!www\.w3\.org)/);
    expect(html).toContain('data-state="dispatching"');
    expect((await fetch(`${server.url}/static/console.js`)).headers.get('content-type')).toContain('javascript');
    expect((await fetch(`${server.url}/static/../server.ts`)).status).toBe(404);
    expect((await fetch(`${server.url}/api/task/never-sent`)).status).toBe(404);
  });

  it('streams the overview over server-sent events', async () => {
    const { server, redis, keys, domain } = await consoleOn();
    await sendTask(redis, keys, buildTaskMessage({ description: 'Create user registration endpoint' }, domain));
    const res = await fetch(`${server.url}/events`);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.getReader();
    let text = '';
    while (!text.includes('event: overview')) text += new TextDecoder().decode((await reader.read()).value);
    while (!/event: overview\ndata: .*\n\n/.test(text)) text += new TextDecoder().decode((await reader.read()).value);
    const data = JSON.parse(/event: overview\ndata: (.*)\n\n/.exec(text)![1]!);
    expect(data.pending).toBe(1);
    expect(data.domain).toBe(domain);
    await reader.cancel();
  });

  it('counts a result published while no page is open, and still streams to the next page', async () => {
    const { server, redis, keys } = await consoleOn();
    // An instance of this domain claimed it: the console counts only its own domain's results.
    await redis.sadd(keys.agentsOfDomain, 'agent-1');
    await redis.rpush(keys.resultLogs('t-done'), '[2026-12-02T00:00:00.000Z] claimed by agent-1');
    await redis.rpush(keys.resultLogs('t-other'), '[2026-12-02T00:00:00.000Z] claimed by someone-else');
    await redis.publish(keys.resultChannel('t-other'), JSON.stringify({ status: 'failed', output: '{}', completed_at: 'x' }));
    await redis.publish(keys.resultChannel('t-done'), JSON.stringify({ status: 'completed', output: '{"outcome":"completed"}', completed_at: 'x' }));
    await eventually(async () => {
      const o = (await (await fetch(`${server.url}/api/overview`)).json()) as { finished: { completed: number; recent: { taskId: string }[] } };
      return o.finished.completed === 1 ? o : undefined;
    }, 10_000, 'the result counted');
    const o = (await (await fetch(`${server.url}/api/overview`)).json()) as { finished: { failed: number; recent: { taskId: string; outcome: string }[] } };
    expect(o.finished.failed).toBe(0);
    expect(o.finished.recent).toEqual([expect.objectContaining({ taskId: 't-done', outcome: 'completed' })]);
    // A stream opened afterwards gets frames (a result with no stream open once stopped every later frame).
    const res = await fetch(`${server.url}/events`);
    const reader = res.body!.getReader();
    let text = '';
    while (!text.includes('event: overview')) text += new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();
  });

  it('reads a queued task from the queue, and a task nobody knows as absent', async () => {
    const { redis, keys, domain } = await consoleOn();
    const m = buildTaskMessage({ description: 'Add role-based access to admin routes', requirements: ['admins only'] }, domain);
    await sendTask(redis, keys, m);
    const d = await readTaskDetail(redis, keys, m.task_id);
    expect(d).toMatchObject({ state: 'queued', description: 'Add role-based access to admin routes', requirements: ['admins only'], cancellable: true });
    expect(await readTaskDetail(redis, keys, 'nobody-sent-this')).toBeUndefined();
  });
});
