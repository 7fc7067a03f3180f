import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestOrchestrator } from '../support/orchestrator.ts';
import { client, eventually, freshDomain } from '../support/redis.ts';

// Through the real start-up on the real Redis: whatever way the listener
// ends (a start that fails late, a clean stop, a cut-short one), none of its
// connections stays open. Its connections are named `${agentId}:<role>`.

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

function redisClient() {
  const redis = client();
  cleanups.push(() => redis.quit());
  return redis;
}

/** This listener's connections to Redis, by name. */
async function connectionsOf(redis: ReturnType<typeof client>, agentId: string): Promise<string[]> {
  const list = (await redis.client('LIST')) as string;
  return list
    .split('\n')
    .map((line) => /(?:^| )name=(\S*)/.exec(line)?.[1])
    .filter((name): name is string => name !== undefined && name.startsWith(`${agentId}:`))
    .sort();
}

const allClosed = (redis: ReturnType<typeof client>, agentId: string) =>
  eventually(async () => ((await connectionsOf(redis, agentId)).length === 0 ? true : undefined), 10_000, `every connection of ${agentId} closed`);

/** How many of each kind keep this process alive (sockets, servers, timers not unref'd). */
const aliveBy = (): Map<string, number> => {
  const counts = new Map<string, number>();
  for (const kind of process.getActiveResourcesInfo()) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  return counts;
};

/** The kinds of which more keep the process alive now than in `before`. */
const moreThan = (before: Map<string, number>): string[] =>
  [...aliveBy()].filter(([kind, n]) => n > (before.get(kind) ?? 0)).map(([kind, n]) => `${n} ${kind} (${before.get(kind) ?? 0} before)`);

/** A server on a port of its own, which the listener is then told to serve its metrics on. */
async function takenPort(): Promise<{ port: number; server: Server }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  return { port: (server.address() as { port: number }).port, server };
}

// The gate (max model calls) adds its subscriber: every kind of connection is opened.
const ROLES = ['claims', 'commands', 'control', 'model-gate'];

describe('start-up and teardown close every connection', () => {
  it('a start that fails late (the metrics port taken) throws that error and leaves no connection or timer of its own', async () => {
    const redis = redisClient();
    const { port } = await takenPort();
    const { domain } = freshDomain();
    const agentId = `${domain}-a`;
    // Settled before: the test's own client connected, its server listening.
    await redis.ping();
    const before = aliveBy();
    expect(await connectionsOf(redis, agentId)).toEqual([]);

    const started = startTestOrchestrator({ domain, metricsPort: port, metricsHost: '127.0.0.1', maxModelCalls: 2 });
    const error = await started.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((error as Error).message).toMatch(new RegExp(`port ${port} on 127.0.0.1 is already in use`));
    expect(((error as Error).cause as NodeJS.ErrnoException).code).toBe('EADDRINUSE');

    await allClosed(redis, agentId);
    // No more of any kind than before (the runner's own timers come and go).
    await eventually(async () => (moreThan(before).length === 0 ? true : undefined), 10_000, 'nothing of the start still alive').catch(() => undefined);
    expect(moreThan(before)).toEqual([]);
  });

  it('a clean stop closes every connection', async () => {
    const redis = redisClient();
    const { orchestrator, config } = await startTestOrchestrator({ maxModelCalls: 2 });
    cleanups.push(() => orchestrator.stop());
    await eventually(async () => ((await connectionsOf(redis, config.agentId)).length === ROLES.length ? true : undefined), 10_000, 'the listener connected');
    expect((await connectionsOf(redis, config.agentId)).map((n) => n.slice(config.agentId.length + 1))).toEqual(ROLES);

    expect(await orchestrator.stop()).toEqual({ clean: true });
    await allClosed(redis, config.agentId);
  });

  it('a cut-short stop drops every connection', async () => {
    const redis = redisClient();
    const { orchestrator, config } = await startTestOrchestrator({ maxModelCalls: 2 });
    cleanups.push(() => orchestrator.stop());
    await eventually(async () => ((await connectionsOf(redis, config.agentId)).length === ROLES.length ? true : undefined), 10_000, 'the listener connected');

    orchestrator.abandon('the test');
    expect(await orchestrator.stop()).toEqual({ clean: false, reason: 'the test' });
    await allClosed(redis, config.agentId);
  });
});
