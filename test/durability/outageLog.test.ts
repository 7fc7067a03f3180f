import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { Redis } from 'ioredis';
import { connectRedis, logRedisOutages } from '../../src/redis/connection.ts';
import { startLocalRedis, type LocalRedis } from '../../src/redis/localServer.ts';
import { startTestOrchestrator } from '../support/orchestrator.ts';
import { client, eventually } from '../support/redis.ts';

// An outage is logged once when Redis is lost, once per interval while it
// stays away and once when it is back, not once per reconnect attempt of
// each connection: a listener left running for an hour must not fill a disk.

const servers: LocalRedis[] = [];
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

function capture() {
  const lines: { msg: string; level: number }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as { msg: string; level: number });
      done();
    },
  });
  const count = (pattern: RegExp) => lines.filter((l) => pattern.test(l.msg)).length;
  return { logger: pino({ level: 'info' }, stream), lines, count };
}

async function dedicatedRedis() {
  const server = await startLocalRedis();
  servers.push(server);
  return server;
}

describe('reconnect log backoff', () => {
  it('logs lost once, still unreachable once per interval of the (injected) clock, and back once', async () => {
    const server = await dedicatedRedis();
    const log = capture();
    let now = 1_000_000;
    const conns: Redis[] = ['a', 'b', 'c'].map((n) => connectRedis(server.url, n));
    cleanups.push(() => conns.forEach((c) => c.disconnect()));
    logRedisOutages({ a: conns[0]!, b: conns[1]!, c: conns[2]! }, log.logger, { intervalMs: 60_000, now: () => now });
    await Promise.all(conns.map((c) => c.ping()));
    let attempts = 0;
    conns.forEach((c) => c.on('error', () => attempts++));
    const waitForAttempts = async (n: number) => {
      const target = attempts + n;
      await eventually(async () => (attempts >= target ? true : undefined), 20_000, `${n} reconnect attempts`);
    };

    await server.kill();
    await waitForAttempts(9);
    expect(log.count(/^redis connection lost/)).toBe(1);
    expect(log.count(/^redis still unreachable/)).toBe(0);

    now += 60_000;
    await waitForAttempts(6);
    expect(log.count(/^redis still unreachable/)).toBe(1);
    now += 30_000;
    await waitForAttempts(6);
    expect(log.count(/^redis still unreachable/)).toBe(1);
    now += 30_000;
    await waitForAttempts(6);
    expect(log.count(/^redis still unreachable/)).toBe(2);

    await server.restart();
    await eventually(async () => (log.count(/^redis connection back/) === 1 ? true : undefined), 20_000, 'the back line');
    await Promise.all(conns.map((c) => c.ping()));
    expect(log.count(/^redis connection lost/)).toBe(1);
    expect(log.count(/^redis still unreachable/)).toBe(2);
    expect(log.lines.filter((l) => /redis/.test(l.msg))).toHaveLength(4);
  }, 60_000);

  it('a listener logs an outage of several reconnect attempts in two lines, not one per attempt and connection', async () => {
    const server = await dedicatedRedis();
    const log = capture();
    const { orchestrator } = await startTestOrchestrator({ redisUrl: server.url }, { logger: log.logger });
    cleanups.push(() => orchestrator.stop());
    await server.kill();
    await eventually(async () => (log.count(/^redis connection lost/) ? true : undefined), 20_000, 'the lost line');
    // Long enough for several attempts of each of its three connections (backoff capped at 2 s).
    await new Promise((r) => setTimeout(r, 4000));
    await server.restart();
    await eventually(async () => (log.count(/^redis connection back/) ? true : undefined), 20_000, 'the back line');
    const redisLines = log.lines.filter((l) => /redis/.test(l.msg)).map((l) => l.msg.split(':')[0]);
    expect(redisLines).toEqual(['redis connection lost', 'redis connection back']);
  }, 60_000);

  it('does not pile heartbeats up in the offline queue while Redis is away (they would all be replayed on its return)', async () => {
    const server = await dedicatedRedis();
    const log = capture();
    const { orchestrator } = await startTestOrchestrator({ redisUrl: server.url, heartbeatIntervalMs: 100 }, { logger: log.logger });
    cleanups.push(() => orchestrator.stop());
    await server.kill();
    await eventually(async () => (log.count(/^redis connection lost/) ? true : undefined), 20_000, 'the lost line');
    // Twenty heartbeat periods away.
    await new Promise((r) => setTimeout(r, 2000));
    const restartedAt = Date.now();
    await server.restart();
    await eventually(async () => (log.count(/^redis connection back/) ? true : undefined), 20_000, 'the back line');
    await new Promise((r) => setTimeout(r, 200));
    const stats = client(server.url);
    cleanups.push(() => stats.quit());
    const info = await stats.info('commandstats');
    const sets = Number(/cmdstat_set:calls=(\d+)/.exec(info)?.[1] ?? 0);
    // A heartbeat is one SET; since the restart only the periods that passed, plus the one that waited.
    expect(sets).toBeLessThanOrEqual(Math.ceil((Date.now() - restartedAt) / 100) + 2);
  }, 60_000);
});
