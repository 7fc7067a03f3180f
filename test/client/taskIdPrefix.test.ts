import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { buildTaskMessage, sendTask } from '../../src/client/send.ts';
import { startConsoleServer } from '../../src/console/server.ts';
import { runCli } from '../support/cli.ts';
import { cleanupsAfterEach, client, freshDomain, redisUrl } from '../support/redis.ts';

const cleanups = cleanupsAfterEach();

/**
 * Three tasks whose ids share a start, one in each place Redis holds a task:
 * a result record (finished), a queued message, a checkpoint (running).
 * `results:*` is shared by every domain: the start is random.
 */
async function threeTasks() {
  const { domain, keys } = freshDomain();
  const redis = client();
  cleanups.push(async () => redis.disconnect());
  const base = randomUUID().slice(0, 8);
  const finished = `${base}1111-finished`;
  const queued = `${base}2222-queued`;
  const running = `${base}3333-running`;
  await redis.hset(keys.result(finished), 'task_id', finished, 'status', 'completed', 'output', '{}');
  await redis.rpush(keys.resultLogs(finished), '[2026-01-01T00:00:00.000Z] claimed');
  await sendTask(redis, keys, buildTaskMessage({ description: 'Create user registration endpoint', taskId: queued }, domain));
  await redis.hset(keys.checkpoint(running), 'owner', `${domain}-gone`);
  const cli = (...args: string[]) => runCli([...args, '--redis', redisUrl(), '--domain', domain]);
  return { domain, keys, redis, base, finished, queued, running, cli };
}

describe('a task id prefix', () => {
  it('names the one task it begins in status and cancel; an ambiguous one lists the matches; a full id still works', async () => {
    const t = await threeTasks();

    const byPrefix = await t.cli('status', `${t.base}1`);
    expect(byPrefix.stderr).toBe('');
    expect(byPrefix.status).toBe(0);
    expect(JSON.parse(byPrefix.stdout)).toMatchObject({ task_id: t.finished, status: 'completed' });

    const full = await t.cli('status', t.finished);
    expect(full.status).toBe(0);
    expect(JSON.parse(full.stdout)).toMatchObject({ task_id: t.finished });

    const ambiguous = await t.cli('status', t.base);
    expect(ambiguous.status).toBe(1);
    expect(ambiguous.stdout).toBe('');
    for (const id of [t.finished, t.queued, t.running]) expect(ambiguous.stderr).toContain(id);
    expect(ambiguous.stderr).toContain('give more characters');

    const none = await t.cli('status', `${t.base}9`);
    expect(none.status).toBe(1);
    expect(none.stderr).toContain(`no record of task ${t.base}9`);

    const cancelQueued = await t.cli('cancel', `${t.base}2`);
    expect(cancelQueued.status).toBe(0);
    expect(cancelQueued.stderr).toContain(`task ${t.queued} was still queued`);
    expect(await t.redis.llen(t.keys.pending)).toBe(0);

    const cancelRunning = await t.cli('cancel', `${t.base}3`);
    expect(cancelRunning.status).toBe(0);
    expect(cancelRunning.stderr).toContain(`task ${t.running} is running`);
    expect(await t.redis.hget(t.keys.checkpoint(t.running), 'cancel')).toBe('cancelled');

    const cancelAmbiguous = await t.cli('cancel', t.base);
    expect(cancelAmbiguous.status).toBe(1);
    expect(cancelAmbiguous.stderr).toContain('is ambiguous');
  }, 60_000);

  it('works in the console: the task page redirects to the full id, the API answers by prefix, an ambiguous prefix is a 409 with the matches', async () => {
    const t = await threeTasks();
    const subscriber = client();
    const server = await startConsoleServer({ redis: t.redis, subscriber, keys: t.keys, domain: t.domain, host: '127.0.0.1', port: 0, token: undefined, pollMs: 100, agentId: `${t.domain}-console` });
    cleanups.push(async () => {
      await server.close();
      subscriber.disconnect();
    });

    const page = await fetch(`${server.url}/task/${t.base}1`, { redirect: 'manual' });
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toBe(`/task/${t.finished}`);
    const fullPage = await fetch(`${server.url}/task/${t.finished}`, { redirect: 'manual' });
    expect(fullPage.status).toBe(200);
    expect(await fullPage.text()).toContain(`data-task-id="${t.finished}"`);

    const api = await fetch(`${server.url}/api/task/${t.base}2`);
    expect(api.status).toBe(200);
    expect(((await api.json()) as { taskId: string }).taskId).toBe(t.queued);

    const ambiguous = await fetch(`${server.url}/api/task/${t.base}`);
    expect(ambiguous.status).toBe(409);
    const body = (await ambiguous.json()) as { error: string; matches: string[] };
    expect(body.matches).toEqual([t.finished, t.queued, t.running]);
    expect(body.error).toContain('give more characters');
  }, 30_000);
});

describe('a recent failure', () => {
  it('shows its task id in watch and in the console JSON', async () => {
    const { domain, keys } = freshDomain();
    const redis = client();
    cleanups.push(async () => redis.disconnect());
    const m = buildTaskMessage({ description: 'Create user registration endpoint' }, domain);
    await sendTask(redis, keys, m);
    // A cancel of a queued task publishes it failed: an entry of the recent failures, written by the publisher.
    expect((await runCli(['cancel', m.task_id, '--redis', redisUrl(), '--domain', domain])).status).toBe(0);
    expect(await redis.llen(keys.recentFailures)).toBe(1);

    const watch = await runCli(['watch', '--once', '--redis', redisUrl(), '--domain', domain]);
    expect(watch.status).toBe(0);
    expect(watch.stdout).toContain('RECENT FAILURES');
    expect(watch.stdout).toContain(`${m.task_id.slice(0, 8)} failed: cancelled`);
    expect(watch.stdout).not.toContain('(no id)');

    const subscriber = client();
    const server = await startConsoleServer({ redis, subscriber, keys, domain, host: '127.0.0.1', port: 0, token: undefined, pollMs: 100, agentId: `${domain}-console` });
    cleanups.push(async () => {
      await server.close();
      subscriber.disconnect();
    });
    const overview = (await (await fetch(`${server.url}/api/overview`)).json()) as { failures: { taskId: string | null; outcome: string }[] };
    expect(overview.failures).toEqual([expect.objectContaining({ taskId: m.task_id, outcome: 'failed' })]);
  }, 30_000);
});
