import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import type { StatelyInspectionEvent } from '@statelyai/inspect';
import { afterEach, describe, expect, it } from 'vitest';
import { createActor, toPromise } from 'xstate';
import { ConfigError } from '../../src/config.ts';
import { createInspection } from '../../src/observability/inspector.ts';
import { REDACTED, redact } from '../../src/observability/redact.ts';
import { sampleTask, taskInput } from '../support/fixtures.ts';
import { spawnOrchestrator } from '../support/process.ts';
import { freshDomain, redisUrl } from '../support/redis.ts';
import { until } from './inspectorServer.ts';
import { stubTaskMachine } from './taskSystem.ts';
import { freePort } from '../../src/redis/localServer.ts';

/** The slice of `ws` (installed with @statelyai/inspect, untyped) a browser-like client needs. */
interface WsClient {
  on(event: 'message', listener: (data: { toString(): string }) => void): void;
  once(event: 'open', listener: () => void): void;
  once(event: 'error', listener: (error: Error) => void): void;
  close(): void;
}
const { WebSocket } = createRequire(import.meta.url)('ws') as { WebSocket: new (url: string) => WsClient };

/** What the inspector page in a browser would get from the relay. */
async function relayClient(port: number) {
  const socket = new WebSocket(`ws://127.0.0.1:${port}`);
  await new Promise<void>((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  const events: StatelyInspectionEvent[] = [];
  socket.on('message', (data) => events.push(JSON.parse(data.toString()) as StatelyInspectionEvent));
  return { events, close: () => socket.close() };
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const DESCRIPTION = 'Create user registration endpoint with secret sauce';

async function runThroughRelay(full: boolean) {
  const port = await freePort();
  const inspection = await createInspection(true, { localPort: port, full });
  cleanups.push(() => inspection.stop());
  expect(inspection.openUrl).toBe(`http://localhost:${port}`);
  const client = await relayClient(port);
  cleanups.push(client.close);

  const actor = createActor(stubTaskMachine(), { input: taskInput(sampleTask({ description: DESCRIPTION })), inspect: inspection.inspect });
  actor.start();
  await toPromise(actor);
  const root = actor.sessionId;
  await until(
    () => client.events.some((e) => e.type === '@xstate.snapshot' && e.sessionId === root && e.snapshot.status === 'done'),
    'the final task snapshot at the relay client',
    10_000,
  );
  return { port, root, events: client.events };
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
    // The page a person opens: the bridge to the inspector UI, pointed at this relay.
    const page = await (await fetch(`http://127.0.0.1:${port}/`)).text();
    expect(page).toContain(`ws://localhost:${port}`);
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

  it('is what start --inspect starts: it prints the page to open and warns of the open port', async () => {
    const port = await freePort();
    const { domain } = freshDomain();
    const proc = spawnOrchestrator(['--redis', redisUrl(), '--domain', domain, '--agent-id', `${domain}-i`, '--inspect', '--inspect-port', String(port)]);
    cleanups.push(() => proc.kill());
    await proc.ready;
    expect(proc.output()).toContain(`open http://localhost:${port} in a browser`);
    expect(proc.output()).toContain('prompts, task text and secrets redacted');
    expect(proc.output()).toMatch(/"level":40.*listens on port \d+ of every interface/);
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toContain(`ws://localhost:${port}`);
    expect(await proc.kill('SIGTERM')).toBe(0);
  }, 30_000);

  it('refuses a port that is taken, naming the option', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, resolve));
    cleanups.push(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
    const port = (blocker.address() as { port: number }).port;
    const error = await createInspection(true, { localPort: port }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(`--inspect-port ${port}`);
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
