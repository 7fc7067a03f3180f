import { mkdtempSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, startLocalRedis, type LocalRedis } from '../../src/redis/localServer.ts';
import { runCli } from '../support/cli.ts';
import { spawnOrchestrator, type OrchestratorProcess } from '../support/process.ts';
import { eventually } from '../support/redis.ts';

// A newcomer who runs a client command with no Redis on the port gets one
// line saying so and exit 4, within the connect timeout (5 s), not ioredis's
// "Unhandled error event" every 1.5 s forever. `start` waits for Redis,
// one log line a minute, and goes on when it comes.

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve().then(c).catch(() => undefined);
});

const env = (): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, HOME: process.env.HOME });
const cwd = mkdtempSync(join(tmpdir(), 'orch-redis-unreachable-'));
const hint = 'is redis-server running there? set --redis or REDIS_URL';

describe('client commands when Redis is unreachable', { timeout: 120_000 }, () => {
  it('send, send --wait, status, cancel, watch and demo --redis each exit 4 with one line naming the URL', async () => {
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    const commands = [
      ['send', 'Create user registration endpoint'],
      ['send', 'Create user registration endpoint', '--wait'],
      ['status', 'some-task'],
      ['cancel', 'some-task'],
      ['watch'],
      ['watch', '--once'],
      ['demo'],
    ];
    const runs = await Promise.all(commands.map((args) => runCli(['--redis', url, ...args], env(), cwd)));
    runs.forEach((run, i) => {
      const what = commands[i]!.join(' ');
      expect(run.stderr, what).toBe(`backend-orchestrator: cannot reach Redis at ${url} (connection refused): ${hint}\n`);
      expect(run.stderr, what).not.toContain('Unhandled error event');
      expect(run.status, what).toBe(4);
    });
  });

  it('redacts the password of the URL, and reads REDIS_URL the same way', async () => {
    const port = await freePort();
    const run = await runCli(['status', 'some-task'], { ...env(), REDIS_URL: `redis://app:hunter2@127.0.0.1:${port}` }, cwd);
    expect(run.stderr).toBe(`backend-orchestrator: cannot reach Redis at redis://app:[redacted]@127.0.0.1:${port} (connection refused): ${hint}\n`);
    expect(run.status).toBe(4);
  });

  it('gives up on a Redis that accepts the connection but never answers (frozen)', async () => {
    const sockets = new Set<Socket>();
    const silent: Server = createServer((s) => sockets.add(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => { for (const s of sockets) s.destroy(); silent.close(r); }));
    const { port } = silent.address() as { port: number };
    const run = await runCli(['--redis', `redis://127.0.0.1:${port}`, 'status', 'some-task'], env(), cwd);
    expect(run.stderr).toBe(`backend-orchestrator: cannot reach Redis at redis://127.0.0.1:${port} (no answer within 5s): ${hint}\n`);
    expect(run.status).toBe(4);
  });
});

describe('start when Redis is unreachable', { timeout: 60_000 }, () => {
  it('logs the outage once (not an unhandled error per attempt) and starts listening when Redis comes', async () => {
    const port = await freePort();
    const proc: OrchestratorProcess = spawnOrchestrator([
      '--redis', `redis://127.0.0.1:${port}`,
      '--workspace', mkdtempSync(join(tmpdir(), 'orch-ws-')),
    ]);
    cleanups.push(() => proc.kill());
    await eventually(async () => (proc.output().includes('"msg":"redis connection lost"') ? true : undefined), 15_000, 'the outage line');
    // Several reconnect attempts (100 ms, 200 ms, 400 ms, 800 ms, 1.6 s apart) go by.
    await new Promise((r) => setTimeout(r, 3000));
    const before = proc.output();
    expect(before).not.toContain('Unhandled error event');
    expect(before.match(/"msg":"redis connection lost"/g)).toHaveLength(1);
    expect(before).not.toContain('"msg":"redis still unreachable"');
    expect(before).not.toContain('"msg":"listening"');

    const redis: LocalRedis = await startLocalRedis({ port });
    cleanups.push(() => redis.stop());
    await proc.ready;
    expect(proc.output()).toContain('"msg":"redis connection back"');
    expect(proc.output()).not.toContain('Unhandled error event');
  });
});
