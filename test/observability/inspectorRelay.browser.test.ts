import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createActor, toPromise } from 'xstate';
import { createInspection } from '../../src/observability/inspector.ts';
import { freePort } from '../../src/redis/localServer.ts';
import { launchBrowser } from '../console/browser.ts';
import { taskInput } from '../support/fixtures.ts';
import { stubTaskMachine } from '../support/taskSystem.ts';

const WAIT = 20_000;

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
}, 60_000);
afterAll(async () => {
  await browser?.close();
});

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A page of another origin (another port is another origin) that tries to read the relay, as in the attack. */
async function foreignSite(relayPort: number) {
  const page = `<!DOCTYPE html><script>
    window.results = {};
    for (const url of ['ws://localhost:${relayPort}', 'ws://127.0.0.1:${relayPort}']) {
      const r = (window.results[url] = { messages: 0, opened: false, done: false });
      const ws = new WebSocket(url);
      ws.onopen = () => { r.opened = true; ws.send(JSON.stringify({ type: '@xstate.event', sessionId: 'forged' })); };
      ws.onmessage = () => { r.messages++; };
      ws.onerror = ws.onclose = () => { r.done = true; };
    }
  </script>`;
  const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(page));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

describe('the inspector relay in headless Chromium', () => {
  it("gives a page of another origin nothing through ws://localhost, and feeds its own page's frame", async () => {
    const port = await freePort();
    const inspection = await createInspection(true, { localPort: port });
    cleanups.push(() => inspection.stop());
    const actor = createActor(stubTaskMachine(), { input: taskInput(), inspect: inspection.inspect });
    actor.start();
    await toPromise(actor);

    const page = await browser.newPage();
    cleanups.push(() => page.close());
    page.setDefaultTimeout(WAIT);

    await page.goto(await foreignSite(port));
    await page.waitForFunction('Object.values(window.results).every((r) => r.done)');
    const results = (await page.evaluate('window.results')) as Record<string, { messages: number; opened: boolean }>;
    expect(Object.keys(results)).toHaveLength(2);
    for (const [url, r] of Object.entries(results)) {
      expect(r, url).toEqual({ messages: 0, opened: false, done: true });
    }

    // The relay's own page: its socket opens and the replayed events wait for the
    // inspector frame (stately.ai, unreachable offline) to say it is ready.
    await page.goto(inspection.openUrl ?? '', { waitUntil: 'domcontentloaded' });
    await page.waitForFunction('typeof ws !== "undefined" && ws.readyState === WebSocket.OPEN && buffer.length > 0');
    const forged = await page.evaluate('JSON.stringify(buffer).includes("forged")');
    expect(forged).toBe(false);
  }, 60_000);
});
