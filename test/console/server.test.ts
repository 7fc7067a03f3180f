import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { cancelTask } from '../../src/client/cancel.ts';
import { buildTaskMessage, sendTask } from '../../src/client/send.ts';
import { keysFor, type Keys } from '../../src/protocol/keys.ts';
import type { TaskOutput } from '../../src/protocol/output.ts';
import { publishResult } from '../../src/redis/results.ts';
import { makeTask, taskRef } from '../support/fixtures.ts';
import { ConfigError } from '../../src/errors.ts';
import { checkBinding } from '../../src/console/access.ts';
import { startConsoleServer, type ConsoleServer } from '../../src/console/server.ts';
import { readTaskDetail } from '../../src/console/taskDetail.ts';
import { runCli } from '../support/cli.ts';
import { cleanupsAfterEach, client, freshDomain, redisUrl } from '../support/redis.ts';

const cleanups = cleanupsAfterEach();

/** A result as an instance publishes it, on `keys`' domain. */
async function publish(redis: Redis, keys: Keys, id: string, outcome: TaskOutput['outcome'], description: string) {
  const status = outcome === 'partial' ? 'partial' : outcome === 'failed' ? 'failed' : 'completed';
  await publishResult(
    { redis, keys, agentId: 'A', owner: undefined, graceMs: 0, deadLetterLimit: 10 },
    { raw: Buffer.from(JSON.stringify(makeTask(description, { taskId: id }))), ref: taskRef(id), outcome, output: { status, outcome, task_id: id } as TaskOutput, error: status === 'completed' ? undefined : 'it broke', deadLetter: undefined },
  );
}

async function consoleOn(token?: string, onDomain?: string) {
  const { domain, keys } = onDomain === undefined ? freshDomain() : { domain: onDomain, keys: keysFor(onDomain) };
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

  it('lists and counts tasks finished before it started, with their description, and its failure count agrees with the failures it lists', async () => {
    const { domain, keys } = freshDomain();
    const redis = client();
    cleanups.push(async () => redis.disconnect());
    await publish(redis, keys, `${domain}-ok`, 'completed', 'Create user registration endpoint');
    await publish(redis, keys, `${domain}-bad`, 'failed', 'Add role-based access to admin routes');
    await publish(redis, keys, `${domain}-half`, 'partial', 'Create a REST API for blog posts');
    const queued = buildTaskMessage({ description: 'Add a users table', taskId: `${domain}-cancelled` }, domain);
    await sendTask(redis, keys, queued);
    await cancelTask(redis, keys, 'cli', queued.task_id);
    // Another domain's result is not this console's.
    const other = freshDomain();
    await publish(redis, other.keys, `${other.domain}-x`, 'failed', 'Elsewhere');

    const { server } = await consoleOn(undefined, domain);
    const o = (await (await fetch(`${server.url}/api/overview`)).json()) as {
      finished: { completed: number; failed: number; cancelled: number; recent: { taskId: string; description: string; state: string }[]; failures: { taskId: string }[] };
    };
    expect(o.finished).toMatchObject({ completed: 1, failed: 2, cancelled: 1 });
    expect(o.finished.failures.map((f) => f.taskId).sort()).toEqual([`${domain}-bad`, `${domain}-half`]);
    expect(o.finished.failures).toHaveLength(o.finished.failed);
    expect(o.finished.recent.map((r) => r.taskId).sort()).toEqual([`${domain}-bad`, `${domain}-cancelled`, `${domain}-half`, `${domain}-ok`]);
    expect(o.finished.recent.find((r) => r.taskId === `${domain}-ok`)).toMatchObject({ description: 'Create user registration endpoint', state: 'completed' });
    // The task page of a task the console never saw in flight still says what it asked for.
    const d = (await (await fetch(`${server.url}/api/task/${domain}-ok`)).json()) as { description: string; state: string };
    expect(d).toMatchObject({ description: 'Create user registration endpoint', state: 'completed' });
    const c = (await (await fetch(`${server.url}/api/task/${queued.task_id}`)).json()) as { description: string; state: string; cancelled: boolean };
    expect(c).toMatchObject({ description: 'Add a users table', state: 'cancelled', cancelled: true });

    // A stream opened afterwards gets frames.
    const res = await fetch(`${server.url}/events`);
    const reader = res.body!.getReader();
    let text = '';
    while (!text.includes('event: overview')) text += new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();
  });

  it('lists every task Redis holds by state, searches by id prefix or description, and pages', async () => {
    const { domain, keys } = freshDomain();
    const redis = client();
    cleanups.push(async () => redis.disconnect());
    for (let i = 0; i < 30; i++) await publish(redis, keys, `${domain}-done-${String(i).padStart(2, '0')}`, 'completed', `Finished task number ${i}`);
    await publish(redis, keys, `${domain}-failed`, 'failed', 'Create a REST API for blog posts');
    await sendTask(redis, keys, buildTaskMessage({ description: 'Add a blog comments table', taskId: `${domain}-queued` }, domain));
    const running = buildTaskMessage({ description: 'Create user registration endpoint', taskId: `${domain}-running` }, domain);
    await redis.lpush(keys.active, JSON.stringify(running));
    await redis.lpush(keys.deadLetters, JSON.stringify({ reason: 'description is missing', task_id: `${domain}-dead`, at: new Date().toISOString(), raw: '{}' }));
    const { server } = await consoleOn(undefined, domain);
    type List = { counts: Record<string, number>; rows: { taskId: string; state: string; description?: string }[]; total?: number; more: boolean };
    const list = async (query: string) => (await (await fetch(`${server.url}/api/tasks?${query}`)).json()) as List;

    const all = await list('');
    expect(all.counts).toEqual({ queued: 1, running: 1, completed: 30, partial: 0, failed: 1, cancelled: 0, 'dead-lettered': 1 });
    expect(all.total).toBe(34);
    expect(all.rows.slice(0, 2).map((r) => [r.taskId, r.state])).toEqual([
      [`${domain}-running`, 'running'],
      [`${domain}-queued`, 'queued'],
    ]);
    expect(all.more).toBe(true);

    // Newest first, a page at a time, and nothing twice.
    const first = await list('state=completed&limit=25');
    const second = await list('state=completed&limit=25&offset=25');
    expect(first.rows).toHaveLength(25);
    expect(first.rows[0]).toMatchObject({ taskId: `${domain}-done-29`, description: 'Finished task number 29' });
    expect(second.rows.map((r) => r.taskId)).toEqual([4, 3, 2, 1, 0].map((i) => `${domain}-done-0${i}`));
    expect(second.more).toBe(false);

    expect((await list(`q=${encodeURIComponent('BLOG')}`)).rows.map((r) => r.taskId).sort()).toEqual([`${domain}-failed`, `${domain}-queued`]);
    expect((await list(`q=${domain}-done-1`)).rows).toHaveLength(10);
    expect((await list(`state=failed&q=${domain}-done`)).rows).toEqual([]);
    expect((await list('state=dead-lettered')).rows).toEqual([expect.objectContaining({ taskId: `${domain}-dead`, state: 'dead-lettered' })]);
    expect((await fetch(`${server.url}/api/tasks?state=nonsense`)).status).toBe(400);
    expect((await fetch(`${server.url}/api/tasks?limit=100000`)).status).toBe(400);
    // The page itself, and an icon instead of a 404 on every page.
    expect(await (await fetch(`${server.url}/tasks`)).text()).toContain('id="task-list"');
    const icon = await fetch(`${server.url}/favicon.ico`);
    expect(icon.status).toBe(200);
    expect(icon.headers.get('content-type')).toBe('image/svg+xml');
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
