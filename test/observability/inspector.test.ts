import { afterEach, describe, expect, it } from 'vitest';
import { createActor, toPromise } from 'xstate';
import { ConfigError } from '../../src/errors.ts';
import { createInspection, parseInspectTarget, type Inspection } from '../../src/observability/inspector.ts';
import { taskInput } from '../support/fixtures.ts';
import { startInspectorServer, until } from './inspectorServer.ts';
import { stubTaskMachine } from '../support/taskSystem.ts';
import { freePort } from '../../src/redis/localServer.ts';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('createInspection with a ws:// target', () => {
  it('streams the task actor and its worker actors to the WebSocket endpoint', async () => {
    const server = await startInspectorServer();
    cleanups.push(server.stop);
    const inspection: Inspection = await createInspection(server.url);
    cleanups.push(() => inspection.stop());
    expect(inspection.description).toContain(server.url);
    expect(server.connections()).toBe(1);

    const actor = createActor(stubTaskMachine(), { input: taskInput(), inspect: inspection.inspect });
    actor.start();
    const output = await toPromise(actor);
    expect(output.outcome).toBe('completed');

    const root = actor.sessionId;
    const isFinal = (e: (typeof server.events)[number]) =>
      e.type === '@xstate.snapshot' && e.sessionId === root && e.snapshot.status === 'done';
    await until(() => server.events.some(isFinal), 'the final task snapshot at the server');

    const taskStates = server.events
      .filter((e) => e.type === '@xstate.snapshot' && e.sessionId === root)
      .map((e) => (e as { snapshot: { value?: unknown } }).snapshot.value);
    // Snapshots are per macrostep: transient states (received, aggregating) never show.
    expect(taskStates).toEqual(expect.arrayContaining(['analyzing', 'dispatching', 'publishing', 'completed']));
    expect(taskStates.indexOf('analyzing')).toBeLessThan(taskStates.indexOf('dispatching'));
    expect(taskStates.at(-1)).toBe('completed');

    const actors = server.events.filter((e) => e.type === '@xstate.actor') as { name: string; sessionId: string; parentId?: string }[];
    const workers = actors.filter((a) => a.name.startsWith('worker:'));
    expect(workers.map((a) => a.name).sort()).toEqual(['worker:api-worker', 'worker:auth-worker', 'worker:db-worker']);
    for (const w of workers) expect(w.parentId).toBe(root);
    expect(actors.map((a) => a.name)).toEqual(expect.arrayContaining(['planner', 'publisher']));
    // Workers' own states arrive too: each ran and succeeded.
    const workerSessions = new Set(workers.map((w) => w.sessionId));
    const workerDone = server.events.filter(
      (e) => e.type === '@xstate.snapshot' && workerSessions.has(e.sessionId) && (e.snapshot as { value?: unknown }).value === 'succeeded',
    );
    expect(workerDone).toHaveLength(3);
  });

  it('stop() closes the connection and drops later events', async () => {
    const server = await startInspectorServer();
    cleanups.push(server.stop);
    const inspection = await createInspection(server.url);
    inspection.stop();
    inspection.stop();
    await until(() => server.closed() === 1, 'the server to see the close');
    const before = server.events.length;
    const actor = createActor(stubTaskMachine(), { input: taskInput(), inspect: inspection.inspect });
    actor.start();
    await toPromise(actor);
    await new Promise((r) => setTimeout(r, 50));
    expect(server.events).toHaveLength(before);
    expect(server.connections()).toBe(1);
  });

  it('fails at once, naming the fix, when nothing listens at the target', async () => {
    const port = await freePort();
    const error = await createInspection(`ws://127.0.0.1:${port}`, { connectTimeoutMs: 1000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/cannot reach the inspector at ws:\/\/127\.0\.0\.1:\d+\/ \(ECONNREFUSED\): start an inspector server/);
  });
});

describe('inspect target validation', () => {
  it.each([
    ['http://127.0.0.1:8080', /uses http: but the inspector speaks WebSocket: use ws:\/\/host:port or wss:\/\/host:port/],
    ['localhost:8080', /uses localhost: but the inspector speaks WebSocket/],
    ["not a url", /is not a URL: use ws:\/\/host:port .*, sky for the hosted Stately inspector, or no value for the local relay/],
  ])('rejects %s with a message that says what to use', async (target, message) => {
    expect(() => parseInspectTarget(target)).toThrow(ConfigError);
    await expect(createInspection(target)).rejects.toThrow(message);
  });

  it('accepts ws:// and wss://', () => {
    expect(parseInspectTarget('ws://127.0.0.1:8080').port).toBe('8080');
    expect(parseInspectTarget('wss://inspector.example:443/path').protocol).toBe('wss:');
  });
});
