import { createRequire } from 'node:module';
import { connect, createServer } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { StatelyInspectionEvent } from '@statelyai/inspect';
import { afterEach, describe, expect, it } from 'vitest';
import { createActor, toPromise, type InspectionEvent } from 'xstate';
import { configFromFlags } from '../../src/cli/start.ts';
import { FLAG_OF_OPTION } from '../../src/cli/startFlags.ts';
import { loadConfig } from '../../src/config.ts';
import { ConfigError } from '../../src/errors.ts';
import { createInspection } from '../../src/observability/inspector.ts';
import { allowedInspectOrigins } from '../../src/observability/inspectorRelay.ts';
import { REDACTED, redact } from '../../src/observability/redact.ts';
import { makeTask, taskInput } from '../support/fixtures.ts';
import { spawnOrchestrator } from '../support/process.ts';
import { freshDomain, redisUrl } from '../support/redis.ts';
import { until } from './inspectorServer.ts';
import { stubTaskMachine } from '../support/taskSystem.ts';
import { freePort } from '../../src/redis/localServer.ts';

/** The slice of `ws` (installed with @statelyai/inspect, untyped) a browser-like client needs. */
interface WsClient {
  on(event: 'message', listener: (data: { toString(): string }) => void): void;
  once(event: 'open', listener: () => void): void;
  once(event: 'error', listener: (error: Error) => void): void;
  once(event: 'unexpected-response', listener: (req: unknown, res: { statusCode?: number; on(e: 'data', l: (chunk: Buffer) => void): void; on(e: 'end', l: () => void): void }) => void): void;
  send(data: string): void;
  close(): void;
}
const { WebSocket } = createRequire(import.meta.url)('ws') as { WebSocket: new (url: string, options?: { origin?: string }) => WsClient };

/** What the inspector page in a browser would get from the relay (with `origin`, what a page of that origin would). */
async function relayClient(port: number, origin?: string, host = '127.0.0.1') {
  const socket = new WebSocket(`ws://${host}:${port}`, origin === undefined ? {} : { origin });
  const events: StatelyInspectionEvent[] = [];
  socket.on('message', (data) => events.push(JSON.parse(data.toString()) as StatelyInspectionEvent));
  await new Promise<void>((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  return { events, send: (data: string) => socket.send(data), close: () => socket.close() };
}

/** An upgrade the relay should refuse: its HTTP status and body, or the socket error. */
function refusedUpgrade(port: number, origin: string): Promise<{ status?: number; body: string; events: unknown[] }> {
  const socket = new WebSocket(`ws://127.0.0.1:${port}`, { origin });
  const events: unknown[] = [];
  socket.on('message', (data) => events.push(data.toString()));
  return new Promise((resolve, reject) => {
    socket.once('open', () => reject(new Error(`the relay accepted a WebSocket from ${origin}`)));
    socket.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk.toString()));
      res.on('end', () => resolve({ ...(res.statusCode === undefined ? {} : { status: res.statusCode }), body, events }));
    });
    socket.once('error', (error) => resolve({ body: error.message, events }));
  });
}

/** This machine's addresses other than loopback: the relay must not answer on them. */
const outsideAddresses = () =>
  Object.values(networkInterfaces())
    .flat()
    .filter((i) => i !== undefined && !i.internal && i.family === 'IPv4')
    .map((i) => i!.address);

const refusesTcp = (host: string, port: number) =>
  new Promise<string>((resolve) => {
    const socket = connect({ host, port, timeout: 2000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve('timeout');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const DESCRIPTION = 'Create user registration endpoint with secret sauce';

async function runThroughRelay(full: boolean, origin?: string) {
  const port = await freePort();
  const inspection = await createInspection(true, { localPort: port, full });
  cleanups.push(() => inspection.stop());
  expect(inspection.openUrl).toBe(`http://127.0.0.1:${port}`);
  const client = await relayClient(port, origin);
  cleanups.push(client.close);
  return { port, inspection, client, ...(await runTask(inspection, client)) };
}

async function runTask(inspection: { inspect: (event: InspectionEvent) => void }, client: { events: StatelyInspectionEvent[] }) {
  const actor = createActor(stubTaskMachine(), { input: taskInput(makeTask(DESCRIPTION)), inspect: inspection.inspect });
  actor.start();
  await toPromise(actor);
  const root = actor.sessionId;
  await until(
    () => client.events.some((e) => e.type === '@xstate.snapshot' && e.sessionId === root && e.snapshot.status === 'done'),
    'the final task snapshot at the relay client',
    10_000,
  );
  return { root, events: client.events };
}

describe('the local inspector relay (start --inspect without a URL)', () => {
  it('relays the task actor and its workers, events and snapshots, to a client of the relay', async () => {
    const { port, root, events } = await runThroughRelay(false);
    const actors = events.filter((e) => e.type === '@xstate.actor') as { name: string; sessionId: string; parentId?: string }[];
    const task = actors.find((a) => a.sessionId === root);
    expect(task?.name).toBe('task');
    const workers = actors.filter((a) => a.name.startsWith('worker:'));
    expect(workers.map((w) => w.name).sort()).toEqual(['worker:api-worker', 'worker:auth-worker', 'worker:db-worker']);
    for (const w of workers) expect(w.parentId).toBe(root);
    const snapshotsOf = (id: string) => events.filter((e) => e.type === '@xstate.snapshot' && e.sessionId === id);
    expect(snapshotsOf(root).map((e) => (e as { snapshot: { value?: unknown } }).snapshot.value)).toEqual(
      expect.arrayContaining(['dispatching', 'completed']),
    );
    for (const w of workers) {
      expect(snapshotsOf(w.sessionId).some((e) => (e as { snapshot: { value?: unknown } }).snapshot.value === 'succeeded')).toBe(true);
    }
    // The page a person opens: the bridge to the inspector UI, pointed at the relay it came from.
    const answer = await fetch(`http://127.0.0.1:${port}/`);
    const page = await answer.text();
    expect(page).toContain("new WebSocket('ws://' + location.host + '/')");
    expect(page).toContain('src="https://stately.ai/inspect"');
    expect(answer.headers.get('x-frame-options')).toBe('DENY');
  });

  it('listens on loopback only unless a host is given', async () => {
    const { port, inspection } = await runThroughRelay(false);
    expect(inspection.relay).toEqual({
      address: '127.0.0.1',
      port,
      allowedOrigins: [`http://localhost:${port}`, `http://127.0.0.1:${port}`, `http://[::1]:${port}`],
    });
    expect(inspection.description).toContain(`on 127.0.0.1:${port} (this machine only)`);
    expect(inspection.warning).toBeUndefined();
    for (const address of outsideAddresses()) expect(await refusesTcp(address, port), address).toBe('ECONNREFUSED');
  });

  it('refuses a WebSocket from a page of another origin (403, no event), and takes one from its own page or with no Origin', async () => {
    const { port, events } = await runThroughRelay(false, undefined);
    expect(events.length).toBeGreaterThan(0);
    for (const origin of ['http://evil.example', `http://evil.example:${port}`, 'https://stately.ai', 'null', `http://127.0.0.1:${port + 1}`]) {
      const refused = await refusedUpgrade(port, origin);
      expect(refused.status, origin).toBe(403);
      expect(refused.body).toContain(`not from ${origin}`);
      expect(refused.body).toContain(`http://127.0.0.1:${port}`);
      expect(refused.events).toEqual([]);
    }
    // The relay's own page, however the browser names it, gets the events (replayed on connect).
    for (const origin of [`http://127.0.0.1:${port}`, `http://localhost:${port}`]) {
      const own = await relayClient(port, origin);
      cleanups.push(own.close);
      await until(() => own.events.length > 0, `events at a client of origin ${origin}`, 5000);
    }
  });

  it('relays only what the orchestrator sends: a viewer cannot inject messages into the other viewers', async () => {
    const port = await freePort();
    const inspection = await createInspection(true, { localPort: port });
    cleanups.push(() => inspection.stop());
    const viewer = await relayClient(port);
    const intruder = await relayClient(port);
    cleanups.push(viewer.close, intruder.close);
    intruder.send(JSON.stringify({ type: '@xstate.event', sessionId: 'forged', event: { type: 'forged' } }));
    await runTask(inspection, viewer);
    expect(JSON.stringify(viewer.events)).not.toContain('forged');
    const late = await relayClient(port);
    cleanups.push(late.close);
    await until(() => late.events.length > 0, 'the replay to a late viewer', 5000);
    expect(JSON.stringify(late.events)).not.toContain('forged');
  });

  it('binds the host it is given and lets its page origin in', async () => {
    const port = await freePort();
    const inspection = await createInspection(true, { localPort: port, localHost: '127.0.0.2' });
    cleanups.push(() => inspection.stop());
    expect(inspection.relay?.address).toBe('127.0.0.2');
    expect(inspection.relay?.allowedOrigins).toContain(`http://127.0.0.2:${port}`);
    expect(inspection.openUrl).toBe(`http://127.0.0.2:${port}`);
    // Still loopback: nothing to warn of.
    expect(inspection.warning).toBeUndefined();
    expect(await refusesTcp('127.0.0.1', port)).toBe('ECONNREFUSED');
    const viewer = await relayClient(port, `http://127.0.0.2:${port}`, '127.0.0.2');
    cleanups.push(viewer.close);
    await runTask(inspection, viewer);
  });

  it('warns when the host it is given is reachable from other machines', async (ctx) => {
    const address = outsideAddresses()[0];
    if (address === undefined) return ctx.skip('this machine has no address but loopback');
    const port = await freePort();
    const inspection = await createInspection(true, { localPort: port, localHost: address });
    cleanups.push(() => inspection.stop());
    expect(inspection.relay?.address).toBe(address);
    expect(inspection.warning).toContain(`--inspect-host ${address}: the inspector relay listens on ${address}:${port}, so anyone who can reach that address can read`);
    expect(inspection.description).not.toContain('this machine only');
  });

  it('takes --inspect-host, loopback by default, and refuses a value that is not an address', () => {
    expect(loadConfig({ model: 'scripted' }, {}).inspectHost).toBe('127.0.0.1');
    expect(loadConfig({ model: 'scripted', ...configFromFlags({ inspectHost: '::1' }) }, {}).inspectHost).toBe('::1');
    expect(() => loadConfig({ model: 'scripted', ...configFromFlags({ inspectHost: 'http://0.0.0.0:8787' }) }, {}, FLAG_OF_OPTION)).toThrow(
      /--inspect-host: must be an address or host name/,
    );
  });

  it('names its allowed origins explicitly', () => {
    expect(allowedInspectOrigins('127.0.0.1', 8787)).toEqual(['http://localhost:8787', 'http://127.0.0.1:8787', 'http://[::1]:8787']);
    expect(allowedInspectOrigins('0.0.0.0', 8787)).toEqual(['http://localhost:8787', 'http://127.0.0.1:8787', 'http://[::1]:8787']);
    expect(allowedInspectOrigins('Build-Box.lan', 80)).toEqual(['http://localhost', 'http://127.0.0.1', 'http://[::1]', 'http://build-box.lan']);
    expect(allowedInspectOrigins('fd00::5', 8787)).toContain('http://[fd00::5]:8787');
  });

  it('sends no task text, instructions or model summaries unless asked for them', async () => {
    const redacted = JSON.stringify((await runThroughRelay(false)).events);
    expect(redacted).not.toContain('secret sauce');
    expect(redacted).not.toContain('do the db-worker part');
    expect(redacted).toContain(REDACTED);
    cleanups.splice(0).reverse().forEach((c) => void c());
    const full = JSON.stringify((await runThroughRelay(true)).events);
    expect(full).toContain('secret sauce');
  });

  it('is what start --inspect starts: it prints the page to open, on loopback, with no warning', async () => {
    const port = await freePort();
    const { domain } = freshDomain();
    const proc = spawnOrchestrator(['--redis', redisUrl(), '--domain', domain, '--agent-id', `${domain}-i`, '--inspect', '--inspect-port', String(port)]);
    cleanups.push(() => proc.kill());
    await proc.ready;
    expect(proc.output()).toContain(`open http://127.0.0.1:${port} in a browser`);
    expect(proc.output()).toContain('prompts, task text and secrets redacted');
    expect(proc.output()).toContain(`relay on 127.0.0.1:${port} (this machine only)`);
    expect(proc.output()).toContain(`"allowed_origins":["http://localhost:${port}","http://127.0.0.1:${port}","http://[::1]:${port}"]`);
    expect(proc.output()).not.toMatch(/"level":40.*inspector relay/);
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toContain('location.host');
    expect(await proc.kill('SIGTERM')).toBe(0);
  }, 30_000);

  it('refuses a port that is taken, naming the option', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, resolve));
    cleanups.push(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
    const port = (blocker.address() as { port: number }).port;
    const error = await createInspection(true, { localPort: port }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(`--inspect-port ${port}: another program listens on 127.0.0.1:${port}`);
  });

  it('refuses a host that is not an address of this machine, naming the option', async () => {
    const error = await createInspection(true, { localPort: await freePort(), localHost: '203.0.113.254' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/^--inspect-host 203\.0\.113\.254: cannot listen on 203\.0\.113\.254:\d+: EADDRNOTAVAIL/);
  });
});

describe('redact', () => {
  it('copies, dropping prompts, task text, model output and secrets, keeping the shape', () => {
    const context = {
      raw: '{"task_id":"x"}',
      task: { task_id: 'x', payload: { description: 'd' } },
      steps: [{ status: 'running', attempts: 2, step: { worker: 'db-worker', instructions: 'do it' }, result: { summary: 's', files_created: ['a.js'] } }],
      details: { 'db-worker': { task: 'the instructions', attempts: 1 } },
      failure: 'Authorization failed with Bearer abcdefghijklmnopqrstuvwxyz',
      key: 'sk-ant-api03-abcdefghijklmnopqrstuvwxyz',
    };
    const before = JSON.stringify(context);
    const out = redact(context) as typeof context;
    expect(JSON.stringify(context)).toBe(before);
    expect(out.raw).toBe(REDACTED);
    expect(out.task).toEqual({ task_id: 'x', payload: REDACTED });
    expect(out.steps[0]).toEqual({ status: 'running', attempts: 2, step: { worker: 'db-worker', instructions: REDACTED }, result: { summary: REDACTED, files_created: ['a.js'] } });
    expect(out.details['db-worker']).toEqual({ task: REDACTED, attempts: 1 });
    expect(out.failure).toBe(REDACTED);
    expect(out.key).toBe(REDACTED);
  });
});
