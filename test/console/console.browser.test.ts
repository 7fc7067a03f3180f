import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { buildTaskMessage, sendTask } from '../../src/client/send.ts';
import { startConsoleServer, type ConsoleServer } from '../../src/console/server.ts';
import type { Keys } from '../../src/protocol/keys.ts';
import type { TaskOutput } from '../../src/protocol/output.ts';
import { publishResult } from '../../src/redis/results.ts';
import { makeTask, taskRef } from '../support/fixtures.ts';
import { cleanupsAfterEach, client, eventually, freshDomain } from '../support/redis.ts';
import { startTestOrchestrator } from '../support/orchestrator.ts';
import { launchBrowser, screenshot } from './browser.ts';

// A loaded 2-core machine: every wait is on a condition, with room to spare.
const WAIT = 20_000;

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
}, 60_000);
afterAll(async () => {
  await browser?.close();
});

const cleanups = cleanupsAfterEach();

async function setup(latencyMs: Record<string, number>, token?: string) {
  const t = await startTestOrchestrator({ scripted: { latencyMs } });
  cleanups.push(() => t.orchestrator.stop());
  const redis = client();
  const subscriber = client();
  cleanups.push(async () => {
    redis.disconnect();
    subscriber.disconnect();
  });
  const server: ConsoleServer = await startConsoleServer({
    redis,
    subscriber,
    keys: t.keys,
    domain: t.config.domain,
    host: '127.0.0.1',
    port: 0,
    token,
    pollMs: 200,
    agentId: `${t.config.domain}-console`,
  });
  cleanups.push(() => server.close());
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  cleanups.push(() => page.close());
  page.setDefaultTimeout(WAIT);
  page.on('dialog', (d) => void d.accept());
  return { ...t, redis, server, page };
}

const stateOf = (page: Page) => page.locator('#state').textContent();

/** A console on a fresh domain with no instance: what it shows is what the test put in Redis. */
async function consoleOnly() {
  const { domain, keys } = freshDomain();
  const redis = client();
  const subscriber = client();
  cleanups.push(async () => {
    redis.disconnect();
    subscriber.disconnect();
  });
  const server = await startConsoleServer({ redis, subscriber, keys, domain, host: '127.0.0.1', port: 0, token: undefined, pollMs: 200, agentId: `${domain}-console` });
  cleanups.push(() => server.close());
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  cleanups.push(() => page.close());
  page.setDefaultTimeout(WAIT);
  return { domain, keys, redis, server, page };
}

/** A result as an instance publishes it. */
async function publish(redis: Redis, keys: Keys, id: string, outcome: TaskOutput['outcome'], description: string) {
  const status = outcome === 'partial' ? 'partial' : outcome === 'failed' ? 'failed' : 'completed';
  await publishResult(
    { redis, keys, agentId: 'A', owner: undefined, graceMs: 0, deadLetterLimit: 10 },
    { raw: Buffer.from(JSON.stringify(makeTask(description, { taskId: id }))), ref: taskRef(id), outcome, output: { status, outcome, task_id: id } as TaskOutput, error: status === 'completed' ? undefined : 'it broke', deadLetter: undefined },
  );
}

describe('the web console in a browser', () => {
  it('shows a task on the overview, then lights dispatching and completed on its page without a reload, with db before api and auth', async () => {
    const { page, server, redis, keys, config } = await setup({ 'db-worker': 2500, 'api-worker': 5000, 'auth-worker': 5000 });
    const missing: string[] = [];
    page.on('response', (r) => void (r.status() === 404 && missing.push(r.url())));
    await page.goto(`${server.url}/`);
    await page.locator('#live.on').waitFor();
    const m = buildTaskMessage({ description: 'Create a REST API for blog posts with authentication' }, config.domain);
    await sendTask(redis, keys, m);

    const row = page.locator(`#tasks tr[data-task-id="${m.task_id}"]`);
    await row.waitFor();
    await expect.poll(() => row.getAttribute('data-state'), { timeout: WAIT }).toMatch(/analyzing|dispatching|claimed/);
    await expect(row.locator('.desc').textContent()).resolves.toContain('blog posts');
    await page.locator('#instances tbody tr', { hasText: `${config.domain}-a` }).waitFor();
    await screenshot(page, 'console-overview');

    await row.locator('a.task-link').click();
    await page.waitForURL(`**/task/${m.task_id}`);
    // A mark that a reload would wipe.
    await page.evaluate('window.mark = 42');
    await page.locator('#machine .state.lit[data-state="dispatching"]').waitFor();
    await page.locator('#plan .step[data-worker="api-worker"]').waitFor();
    const column = (w: string) => page.locator(`#plan .step[data-worker="${w}"]`).getAttribute('data-column').then(Number);
    const [db, api, auth] = [await column('db-worker'), await column('api-worker'), await column('auth-worker')];
    expect(db).toBeLessThan(api);
    expect(db).toBeLessThan(auth);
    // One read in the page: the graph may be redrawn between two separate reads.
    const xs = (await page.evaluate(
      `Object.fromEntries([...document.querySelectorAll('#plan .step')].map((g) => [g.dataset.worker, g.getBoundingClientRect().x]))`,
    )) as Record<string, number>;
    expect(xs['db-worker']).toBeLessThan(Math.min(xs['api-worker']!, xs['auth-worker']!));
    await expect(page.locator('#plan .dep[data-from="db-worker"]').count()).resolves.toBe(2);
    await page.locator('#plan .step[data-state="running"]').first().waitFor();
    await screenshot(page, 'console-task-running');
    // The db worker's result, shown from its checkpoint while api and auth still run: the task is not published yet.
    const dbCard = page.locator('#workers .worker[data-worker="db-worker"].state-succeeded');
    await dbCard.waitFor();
    await expect(page.locator('#output').textContent()).resolves.toBe('not published yet');
    await expect(dbCard.locator('dd .summary').textContent()).resolves.toMatch(/\w/);
    await expect(dbCard.locator('ul.files li').count()).resolves.toBeGreaterThan(0);
    await expect(dbCard.textContent()).resolves.toMatch(/input \d/);
    await expect(page.locator('#machine .state.lit[data-state="dispatching"]').count()).resolves.toBe(1);
    // The path so far: received → analyzing → dispatching drawn, with the guard of each edge it took.
    await expect(page.locator('#machine .edge.taken').count()).resolves.toBe(2);
    await expect(page.locator('#machine .edge.taken[data-from="received"][data-to="analyzing"] tspan.taken').textContent()).resolves.toBe('always [isValid]');

    await page.locator('#machine .state.lit[data-state="completed"]').waitFor();
    await expect(stateOf(page)).resolves.toBe('completed');
    for (const w of ['db-worker', 'api-worker', 'auth-worker']) {
      await page.locator(`#plan .step[data-worker="${w}"][data-state="succeeded"]`).waitFor();
    }
    await page.locator('#logs', { hasText: 'result published: completed' }).waitFor();
    // The whole path drawn: every state it passed shaded, each transition it took marked on its edge, the others not.
    const taken = (await page.evaluate(
      `[...document.querySelectorAll('#machine .edge tspan.taken')].map((t) => t.closest('.edge').dataset.from + '>' + t.closest('.edge').dataset.to + ' ' + t.dataset.label)`,
    )) as string[];
    expect(taken).toEqual([
      'received>analyzing always [isValid]',
      'analyzing>dispatching done(planner) [else]',
      'dispatching>aggregating always [allSettled]',
      'aggregating>publishing always',
      'publishing>completed done(publisher) [succeeded]',
    ]);
    const visited = (await page.evaluate(`[...document.querySelectorAll('#machine .state.visited')].map((n) => n.dataset.state)`)) as string[];
    expect(visited.sort()).toEqual(['aggregating', 'analyzing', 'completed', 'dispatching', 'publishing', 'received']);
    // Guards are written on the edges, not only in a tooltip; the publisher's done edges each say which.
    for (const label of ['done(publisher) [succeeded]', 'done(publisher) [partial]', 'done(publisher) [else]', 'done(publisher) [superseded]']) {
      await expect(page.locator(`#machine .edge tspan[data-label="${label}"]`).isVisible()).resolves.toBe(true);
    }
    const boxes = (await page.evaluate(
      `[...document.querySelectorAll('#machine .edge[data-from="publishing"] tspan[data-label]')].map((t) => { const r = t.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })`,
    )) as [number, number, number, number][];
    for (const [i, a] of boxes.entries()) {
      for (const b of boxes.slice(i + 1)) expect(a[2] <= b[0] || b[2] <= a[0] || a[3] <= b[1] || b[3] <= a[1], 'two labels of the publisher overlap').toBe(true);
    }
    await page.locator('#workers .worker[data-worker="db-worker"]', { hasText: 'files created' }).waitFor();
    await expect(page.locator('#output').textContent()).resolves.toContain('"outcome": "completed"');
    expect(await page.evaluate('window.mark')).toBe(42);
    await screenshot(page, 'console-task');

    // Each worker's full prompt, kept after publication, collapsed until opened, and shown as text:
    // its literal <task-data> tags must not become elements.
    const prompt = page.locator('#workers .worker[data-worker="db-worker"] details.prompt-full');
    await expect(prompt.getAttribute('open')).resolves.toBeNull();
    await expect(prompt.locator('pre').isVisible()).resolves.toBe(false);
    await prompt.locator('summary').click();
    await prompt.locator('pre').waitFor({ state: 'visible' });
    const text = (await prompt.locator('pre').textContent()) ?? '';
    expect(text).toContain('## Your part (db-worker)');
    expect(text).toContain('blog posts');
    expect(text).toContain('<task-data>');
    await expect(page.locator('#workers task-data').count()).resolves.toBe(0);
    await expect(page.locator('#workers .worker[data-worker="auth-worker"] details.prompt-full pre').textContent()).resolves.toContain(
      '## Your part (auth-worker)',
    );
    await screenshot(page, 'console-task-prompt');

    // Back on the overview it is counted and listed as finished, with what it asked for.
    await page.goto(`${server.url}/`);
    await page.locator(`#finished tr[data-task-id="${m.task_id}"]`).waitFor();
    await expect(page.locator(`#finished tr[data-task-id="${m.task_id}"] .desc`).textContent()).resolves.toContain('blog posts');
    await expect(page.locator('#completed').textContent()).resolves.toBe('1');
    // No request of any page answered 404 (the favicon among them).
    expect(missing).toEqual([]);
  }, 90_000);

  it('cancels a running task from its page: it ends failed, cancelled', async () => {
    const { page, server, redis, keys, config } = await setup({ 'db-worker': 30_000, 'api-worker': 30_000, 'auth-worker': 30_000 });
    const m = buildTaskMessage({ description: 'Create user registration endpoint' }, config.domain);
    await sendTask(redis, keys, m);
    await page.goto(`${server.url}/task/${m.task_id}`);
    await page.locator('#machine .state.lit[data-state="dispatching"]').waitFor();
    // A running worker's prompt is there while it runs.
    await page.locator('#workers .worker[data-worker="db-worker"] details.prompt-full pre', { hasText: '## Your part (db-worker)' }).waitFor({ state: 'attached' });
    await page.locator('#cancel:not([hidden])').click();
    await page.locator('#machine .state.lit[data-state="failed"]').waitFor();
    await expect(stateOf(page)).resolves.toBe('cancelled');
    await page.locator('#facts', { hasText: 'error: cancelled' }).waitFor();
    await expect(page.locator('#cancel').isHidden()).resolves.toBe(true);
    // Its workers were stopped, not broken: none is shown as failed; the one that ran is cancelled, the others skipped.
    await page.locator('#workers .worker[data-worker="db-worker"].state-cancelled').waitFor();
    await expect(page.locator('#workers .worker.state-failed').count()).resolves.toBe(0);
    await expect(page.locator('#plan .step.state-failed').count()).resolves.toBe(0);
    await expect(page.locator('#machine .edge[data-from="dispatching"][data-to="aggregating"] tspan.taken').textContent()).resolves.toBe('CANCEL');
    const record = await redis.hgetall(keys.result(m.task_id));
    expect(record.status).toBe('failed');
    expect(record.error).toBe('cancelled');
    await screenshot(page, 'console-task-cancelled');
  }, 60_000);

  it('lists every task by state on the tasks page, finds them by text or id prefix, pages through them, and opens one by an ambiguous prefix', async () => {
    const { page, server, redis, keys, domain } = await consoleOnly();
    // Published before the console started, as an instance writes them.
    for (let i = 0; i < 27; i++) await publish(redis, keys, `${domain}-ok-${String(i).padStart(2, '0')}`, 'completed', `Add endpoint number ${i}`);
    await publish(redis, keys, `${domain}-bad`, 'failed', 'Create a REST API for blog posts with authentication');
    await sendTask(redis, keys, buildTaskMessage({ description: 'Add a blog comments table', taskId: `${domain}-queued` }, domain));

    await page.goto(`${server.url}/tasks`);
    await page.locator('#task-list tbody tr[data-state]').first().waitFor();
    await expect(page.locator('#state-tabs .tab[data-state="completed"] .count').textContent()).resolves.toBe('27');
    await expect(page.locator('#state-tabs .tab[data-state="all"] .count').textContent()).resolves.toBe('29');
    await expect(page.locator('#task-list tbody tr').first().getAttribute('data-task-id')).resolves.toBe(`${domain}-queued`);
    await expect(page.locator('#task-list tbody tr').count()).resolves.toBe(25);
    await screenshot(page, 'console-tasks');

    // One state, newest first, a page at a time.
    // Rows and tabs are drawn together from one answer: the lit tab says the rows are the new ones.
    await page.locator('#state-tabs .tab[data-state="completed"]').click();
    await page.locator('#state-tabs .tab.on[data-state="completed"]').waitFor();
    await expect(page.locator('#task-list tbody tr').first().getAttribute('data-task-id')).resolves.toBe(`${domain}-ok-26`);
    await expect(page.locator('#task-list tbody tr[data-state="queued"]').count()).resolves.toBe(0);
    expect(new URL(page.url()).search).toBe('?state=completed');
    await page.locator('#next').click();
    await page.locator(`#task-list tbody tr[data-task-id="${domain}-ok-00"]`).waitFor();
    await expect(page.locator('#task-list tbody tr').count()).resolves.toBe(2);
    await expect(page.locator('#page-info').textContent()).resolves.toBe('26–27 of 27');
    await expect(page.locator('#next').isDisabled()).resolves.toBe(true);
    await page.locator('#prev').click();
    await page.locator(`#task-list tbody tr[data-task-id="${domain}-ok-26"]`).waitFor();

    // Search by words of the description, over every state, and by id prefix.
    await page.locator('#state-tabs .tab[data-state="all"]').click();
    await page.locator('#q').fill('blog');
    await page.locator('#search button').click();
    await expect.poll(() => page.locator('#task-list tbody tr').count(), { timeout: WAIT }).toBe(2);
    await page.locator(`#task-list tbody tr[data-task-id="${domain}-bad"]`).waitFor();
    await page.locator('#q').fill(`${domain}-ok-1`);
    await page.locator('#search button').click();
    await expect.poll(() => page.locator('#task-list tbody tr').count(), { timeout: WAIT }).toBe(10);
    await page.locator(`#task-list tbody tr[data-task-id="${domain}-ok-19"]`).waitFor();

    // A finished task's page, opened from the list, says what it asked for though the console never saw it run.
    await page.locator('#q').fill('blog posts');
    await page.locator('#search button').click();
    await page.locator(`#task-list tbody tr[data-task-id="${domain}-bad"] a.task-link`).click();
    await page.waitForURL(`**/task/${domain}-bad`);
    await page.locator('#description', { hasText: 'Create a REST API for blog posts' }).waitFor();
    await expect.poll(() => stateOf(page), { timeout: WAIT }).toBe('failed');

    // An ambiguous prefix lists its matches; choosing one opens it.
    const ambiguous = await page.goto(`${server.url}/task/${domain}-ok-0`);
    expect(ambiguous?.status()).toBe(409);
    await expect(page.locator('#matches a.task-link').count()).resolves.toBe(10);
    await screenshot(page, 'console-ambiguous');
    await page.locator(`#matches a.task-link`, { hasText: `${domain}-ok-07` }).click();
    await page.waitForURL(`**/task/${domain}-ok-07`);
    await page.locator('#description', { hasText: 'Add endpoint number 7' }).waitFor();
    // A prefix that names one task opens it.
    await page.goto(`${server.url}/task/${domain}-queu`);
    await page.waitForURL(`**/task/${domain}-queued`);
    // The page draws its state once its first answer is in ('…' until then).
    await expect.poll(() => stateOf(page), { timeout: WAIT }).toBe('queued');
  }, 90_000);

  it('requeues an edited dead letter, which then completes', async () => {
    const { page, server, redis, keys, config } = await setup({ 'db-worker': 200, 'api-worker': 200, 'auth-worker': 200 });
    const good = buildTaskMessage({ description: 'Create user registration endpoint' }, config.domain);
    // What a producer with a bug might send: no description.
    const broken = JSON.stringify({ ...good, payload: { requirements: [] } });
    await redis.lpush(keys.pending, broken);
    await page.goto(`${server.url}/`);
    const card = page.locator(`.dead-letter[data-task-id="${good.task_id}"]`);
    await card.waitFor();
    await expect(card.locator('.reason').textContent()).resolves.toContain('description');
    await card.locator('textarea').fill(JSON.stringify(good));
    await screenshot(page, 'console-dead-letter');
    await card.locator('button.requeue').click();
    await card.locator('.action-result a.task-link').click();
    await page.waitForURL(`**/task/${good.task_id}`);
    await page.locator('#machine .state.lit[data-state="completed"]').waitFor();
    await expect(stateOf(page)).resolves.toBe('completed');
    expect(await redis.lrange(keys.deadLetters, 0, -1)).toEqual([]);
    expect((await redis.hgetall(keys.result(good.task_id))).status).toBe('completed');
  }, 60_000);

  it('refuses an edited dead letter that is still not a task, and keeps it', async () => {
    const { page, server, redis, keys } = await setup({});
    await redis.lpush(keys.pending, '{"task_id": "t-1", "payload": ');
    await page.goto(`${server.url}/`);
    const card = page.locator('.dead-letter[data-task-id="t-1"]');
    await card.waitFor();
    await card.locator('textarea').fill('{"task_id": "t-1"}');
    await card.locator('button.requeue').click();
    await card.locator('.action-result.bad', { hasText: 'payload' }).waitFor();
    await expect(redis.llen(keys.deadLetters)).resolves.toBe(1);
    await eventually(async () => ((await redis.llen(keys.pending)) === 0 ? true : undefined));
  }, 60_000);

  it('shows hostile text as text: markup in a message never runs', async () => {
    const { page, server, redis, keys } = await setup({});
    const hostile = '{"task_id": "<img src=x onerror=window.pwned=1>", "payload": {"description": "<script>window.pwned=2</script>"}';
    await redis.lpush(keys.pending, hostile);
    await page.goto(`${server.url}/`);
    const card = page.locator('.dead-letter', { hasText: '<img src=x' });
    await card.waitFor();
    await expect(card.locator('textarea').inputValue()).resolves.toBe(hostile);
    await expect(page.locator('.dead-letter img').count()).resolves.toBe(0);
    expect(await page.evaluate('window.pwned')).toBeUndefined();
  }, 60_000);

  it('with --token, refuses pages, streams and actions without it, and works once given', async () => {
    const token = 'a-long-enough-secret-token';
    const { page, server } = await setup({}, token);
    for (const path of ['/', '/events', '/api/overview', '/static/console.js', '/task/x']) {
      const res = await fetch(`${server.url}${path}`);
      expect(res.status, path).toBe(401);
    }
    const post = await fetch(`${server.url}/api/dead-letters/discard`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"entry":"x"}' });
    expect(post.status).toBe(401);
    expect((await fetch(`${server.url}/api/overview`, { headers: { authorization: 'Bearer wrong-token-of-some-length' } })).status).toBe(401);
    expect((await fetch(`${server.url}/api/overview`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);

    const refused = await page.goto(`${server.url}/`);
    expect(refused?.status()).toBe(401);
    await expect(page.locator('body').textContent()).resolves.toContain('needs its token');
    await page.goto(`${server.url}/?token=${token}`);
    expect(new URL(page.url()).search).toBe('');
    await page.locator('#live.on').waitFor();
    await screenshot(page, 'console-overview-token');
  }, 60_000);
});
