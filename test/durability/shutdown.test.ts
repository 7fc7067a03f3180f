import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildTaskMessage, sendTask } from '../../src/client/send.ts';
import { startLocalRedis, type LocalRedis } from '../../src/redis/localServer.ts';
import { spawnOrchestrator, type OrchestratorProcess } from '../support/process.ts';
import { client, eventually, freshDomain } from '../support/redis.ts';

// A real listener process with three tasks in flight on a 3 s model, and its
// own redis-server stopped before, at or after the SIGTERM. Whatever Redis
// does, the process must end on its own after the grace plus the margin,
// non-zero, saying so, and leave the checkpoints for another instance.

const procs: OrchestratorProcess[] = [];
const servers: LocalRedis[] = [];
afterEach(async () => {
  await Promise.all(procs.splice(0).map((p) => p.kill()));
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

/** Liveness, not timing: a listener still running this long after its signal never ends. */
const EXIT_WITHIN_MS = 40_000;

async function exitOf(p: OrchestratorProcess): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const stuck = new Promise<'still running'>((r) => (timer = setTimeout(() => r('still running'), EXIT_WITHIN_MS)));
  const code = await Promise.race([p.exited, stuck]);
  clearTimeout(timer);
  if (code === 'still running') throw new Error(`the listener was still running ${EXIT_WITHIN_MS} ms after its signal:\n${p.output().slice(-3000)}`);
  return code;
}

async function setup(extra: string[] = []) {
  // Append-only with fsync always: what the listener wrote before the outage is there after the restart.
  const server = await startLocalRedis({ persistent: true });
  servers.push(server);
  const { domain, keys } = freshDomain();
  const agentId = `${domain}-shut`;
  const p = spawnOrchestrator(
    [
      '--redis', server.url, '--domain', domain, '--agent-id', agentId, '--workspace', mkdtempSync(join(tmpdir(), 'orch-shut-')),
      '--concurrency', '3', '--claim-timeout', '0.1', '--heartbeat-ms', '200', '--result-grace-ms', '0',
      '--shutdown-grace-ms', '1000', '--shutdown-margin-ms', '1000', ...extra,
    ],
    { ORCH_SCRIPTED_LATENCY_MS: '3000' },
  );
  procs.push(p);
  await p.ready;
  const redis = client(server.url);
  redis.on('error', () => undefined);
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    const m = buildTaskMessage({ description: 'Create user registration endpoint' }, domain);
    await sendTask(redis, keys, m);
    ids.push(m.task_id);
  }
  await eventually(
    async () => ((await Promise.all(ids.map((id) => redis.hget(keys.checkpoint(id), 'owner')))).every((o) => o === agentId) ? true : undefined),
    15_000,
    'three tasks in flight',
  );
  /** After the process ended: Redis back, the checkpoints as the listener left them. */
  const checkpointsAfterRestart = async () => {
    await server.restart();
    return Promise.all(ids.map((id) => redis.hgetall(keys.checkpoint(id))));
  };
  return { server, p, redis, ids, keys, domain, agentId, checkpointsAfterRestart };
}

const waitForOutput = (p: OrchestratorProcess, pattern: RegExp, what: string) =>
  eventually(async () => (pattern.test(p.output()) ? true : undefined), 15_000, what);

function expectCutShort(p: OrchestratorProcess, code: number | null) {
  expect(code, p.output().slice(-3000)).not.toBe(0);
  expect(code).not.toBeNull(); // it exited by itself, not by a signal's default action
  expect(p.output()).toMatch(/"msg":"shutdown cut short[^"]*checkpoints/);
}

describe('bounded shutdown (real processes, Redis stopped)', () => {
  it('Redis stopped before the SIGTERM, with commands waiting in the offline queue: exits non-zero, checkpoints kept', async () => {
    const { server, p, redis, agentId, checkpointsAfterRestart } = await setup();
    try {
      await server.kill();
      // The listener noticed, and its heartbeats (every 200 ms) now wait in ioredis's offline queue.
      await waitForOutput(p, /redis connection (error|lost)/, 'the outage to be noticed');
      await new Promise((r) => setTimeout(r, 500));
      p.child.kill('SIGTERM');
      expectCutShort(p, await exitOf(p));
      const checkpoints = await checkpointsAfterRestart();
      expect(checkpoints.map((c) => c.owner)).toEqual([agentId, agentId, agentId]);
    } finally {
      redis.disconnect();
    }
  }, 90_000);

  it('Redis stopped at the moment of the SIGTERM: exits non-zero, checkpoints kept', async () => {
    const { server, p, redis, agentId, checkpointsAfterRestart } = await setup();
    try {
      p.child.kill('SIGTERM');
      await server.kill();
      expectCutShort(p, await exitOf(p));
      const checkpoints = await checkpointsAfterRestart();
      expect(checkpoints.map((c) => c.owner)).toEqual([agentId, agentId, agentId]);
    } finally {
      redis.disconnect();
    }
  }, 90_000);

  it('Redis stopped during the grace, after the SIGTERM: exits non-zero; another instance takes the tasks over', async () => {
    const { server, p, redis, ids, keys, domain, checkpointsAfterRestart } = await setup();
    try {
      p.child.kill('SIGTERM');
      await waitForOutput(p, /"msg":"stopping/, 'the stop to begin');
      await server.kill();
      expectCutShort(p, await exitOf(p));
      const checkpoints = await checkpointsAfterRestart();
      expect(checkpoints.every((c) => c.owner !== undefined)).toBe(true);
      const next = spawnOrchestrator(['--redis', server.url, '--domain', domain, '--agent-id', 'shut-next', '--heartbeat-ms', '200', '--recovery-ms', '200', '--claim-timeout', '0.1'], {
        ORCH_SCRIPTED_LATENCY_MS: '10',
      });
      procs.push(next);
      await next.ready;
      const statuses = await eventually(async () => {
        const s = await Promise.all(ids.map((id) => redis.hget(`results:${id}`, 'status')));
        return s.every((x) => x === 'completed') ? s : undefined;
      }, 30_000, 'the tasks taken over and completed');
      expect(statuses).toHaveLength(3);
      expect(await redis.llen(keys.active)).toBe(0);
    } finally {
      redis.disconnect();
    }
  }, 90_000);

  it('a second signal during the shutdown ends it at once, non-zero, leaving the checkpoints', async () => {
    // A grace far longer than the test: only the second signal can end the process in time.
    const { server, p, redis, agentId, checkpointsAfterRestart } = await setup(['--shutdown-grace-ms', '600000']);
    try {
      await server.kill();
      p.child.kill('SIGTERM');
      await waitForOutput(p, /"msg":"stopping/, 'the stop to begin');
      p.child.kill('SIGINT');
      const code = await exitOf(p);
      expect(code, p.output().slice(-3000)).not.toBe(0);
      expect(code).not.toBeNull();
      expect(p.output()).toMatch(/"msg":"shutdown cut short by a second signal/);
      const checkpoints = await checkpointsAfterRestart();
      expect(checkpoints.map((c) => c.owner)).toEqual([agentId, agentId, agentId]);
    } finally {
      redis.disconnect();
    }
  }, 90_000);

  it('with Redis up, a SIGTERM still hands the tasks off and exits 0', async () => {
    const { p, redis, ids, keys } = await setup();
    try {
      p.child.kill('SIGTERM');
      expect(await exitOf(p), p.output().slice(-3000)).toBe(0);
      expect(p.output()).not.toMatch(/shutdown cut short/);
      const handoffs = await Promise.all(ids.map((id) => redis.hget(keys.checkpoint(id), 'handoff')));
      expect(handoffs).toEqual(['1', '1', '1']);
    } finally {
      redis.disconnect();
    }
  }, 90_000);
});
