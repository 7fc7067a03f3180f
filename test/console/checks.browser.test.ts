import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startConsoleServer } from '../../src/console/server.ts';
import { stateLine } from '../../src/diagrams/statePath.ts';
import { CHECKS_FIELD, type CheckResult } from '../../src/protocol/checks.ts';
import type { TaskOutput } from '../../src/protocol/output.ts';
import { publishResult } from '../../src/redis/results.ts';
import { makeTask, taskRef } from '../support/fixtures.ts';
import { cleanupsAfterEach, client, freshDomain } from '../support/redis.ts';
import { launchBrowser, screenshot } from './browser.ts';

// The task page's checks panel (`--verify`): each check's command, passed or
// failed, exit code or why it could not run, time, runs and output tail, read
// from the checkpoint while the task runs and from output.checks once
// published; the tail is what a check printed (model-written code ran), so it
// must reach the page as text. And the badge tells completed_with_warnings
// apart from completed.

const WAIT = 20_000;
const HOSTILE = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>\nnot ok 1 - registration </pre><b>bold</b>';

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
}, 60_000);
afterAll(async () => {
  await browser?.close();
});

const cleanups = cleanupsAfterEach();

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
  return { keys, redis, server, page };
}

const failing: CheckResult = { command: 'node --test', passed: false, exit_code: 1, duration_ms: 2300, rounds: 3, output_tail: HOSTILE };
const hung: CheckResult = { command: 'npm run e2e', passed: false, exit_code: null, duration_ms: 120_000, rounds: 1, output_tail: '', error: 'time limit of 120 s reached' };

describe('the checks panel of the task page', () => {
  it('shows each published check with its tail as text, and the badge says completed_with_warnings, not completed', async () => {
    const { page, server, redis, keys } = await consoleOnly();
    const id = 'task-checks-published';
    const output = { status: 'completed', outcome: 'completed_with_warnings', task_id: id, checks: [failing, hung] } as unknown as TaskOutput;
    await publishResult(
      { redis, keys, agentId: 'A', owner: undefined, graceMs: 0, deadLetterLimit: 10 },
      { raw: Buffer.from(JSON.stringify(makeTask('Create user registration endpoint', { taskId: id }))), ref: taskRef(id), outcome: 'completed_with_warnings', output, error: undefined, deadLetter: undefined },
    );
    await page.goto(`${server.url}/task/${id}`);
    await expect.poll(() => page.locator('#state').textContent(), { timeout: WAIT }).toBe('completed_with_warnings');
    expect(await page.locator('#state').getAttribute('class')).toContain('task-completed_with_warnings');
    await page.locator('#machine .state.lit[data-state="completed"]').waitFor();

    const cards = page.locator('#checks .check');
    await expect.poll(() => cards.count(), { timeout: WAIT }).toBe(2);
    expect(await page.locator('#checks-section').isHidden()).toBe(false);
    const first = cards.nth(0);
    expect(await first.locator('code.command').textContent()).toBe('node --test');
    expect(await first.getAttribute('data-passed')).toBe('false');
    expect(await first.locator('.chip').textContent()).toBe('failed');
    const facts = await first.locator('dd').allTextContents();
    expect(facts).toEqual(['exit code 1', '2.3 s', '3']);
    // The tail, character for character, as text: no element of it became markup, no script of it ran.
    expect(await first.locator('pre.tail').textContent()).toBe(HOSTILE);
    expect(await page.locator('#checks img, #checks script, #checks b').count()).toBe(0);
    expect(await page.evaluate('window.pwned')).toBeUndefined();
    expect(await cards.nth(1).locator('dd').first().textContent()).toBe('could not run: time limit of 120 s reached');
    expect(await cards.nth(1).locator('p.hint').textContent()).toBe('no output');
    await screenshot(page, 'console-task-checks');
  });

  it('shows the checks of a running task from its checkpoint, and names the state verifying from its progress log', async () => {
    const { page, server, redis, keys } = await consoleOnly();
    const id = 'task-checks-running';
    const passing: CheckResult = { command: 'node --test', passed: true, exit_code: 0, duration_ms: 900, rounds: 1, output_tail: '# pass 5' };
    await redis.hset(keys.checkpoint(id), { raw: JSON.stringify(makeTask('Create user registration endpoint', { taskId: id })), owner: 'A', first_claimed_at: String(Date.now()), [CHECKS_FIELD]: JSON.stringify([passing]) });
    await redis.rpush(keys.resultLogs(id), stateLine('received', 'analyzing', 'always [isValid]'), stateLine('dispatching', 'verifying', 'always'));
    await page.goto(`${server.url}/task/${id}`);
    await expect.poll(() => page.locator('#state').textContent(), { timeout: WAIT }).toBe('verifying');
    const card = page.locator('#checks .check[data-passed="true"]');
    await card.waitFor();
    expect(await card.locator('.chip').textContent()).toBe('passed');
    expect(await card.locator('pre.tail').textContent()).toBe('# pass 5');

    // A later run replaces it, without a reload.
    await page.evaluate('window.mark = 1');
    await redis.hset(keys.checkpoint(id), CHECKS_FIELD, JSON.stringify([{ ...passing, passed: false, exit_code: 1, output_tail: 'not ok 1' }]));
    await page.locator('#checks .check[data-passed="false"]').waitFor();
    expect(await page.evaluate('window.mark')).toBe(1);
  });

  it('lights verifying, then fixing, on the statechart as the progress log reaches them', async () => {
    const { page, server, redis, keys } = await consoleOnly();
    const id = 'task-checks-lit';
    await redis.hset(keys.checkpoint(id), { raw: JSON.stringify(makeTask('Create user registration endpoint', { taskId: id })), owner: 'A', first_claimed_at: String(Date.now()) });
    await redis.rpush(keys.resultLogs(id), stateLine('dispatching', 'verifying', 'always'));
    await page.goto(`${server.url}/task/${id}`);
    await page.locator('#machine .state.lit[data-state="verifying"]').waitFor();
    await redis.rpush(keys.resultLogs(id), stateLine('verifying', 'fixing', 'done(checks) [failedWithRoundsLeft]'));
    await page.locator('#machine .state.lit[data-state="fixing"]').waitFor();
    expect(await page.locator('#machine .state.visited[data-state="verifying"]').count()).toBe(1);
    expect(await page.locator('#state').textContent()).toBe('fixing');
  });
});
