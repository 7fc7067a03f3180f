import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startFaultProxy, type FaultProxy } from '../support/faultProxy.ts';
import { allFinal, countPublications, deliveryViolations, publishedIn, rerunsAfterDone, sendTasks, takenOverBy } from '../support/invariants.ts';
import { FAST_RECOVERY, type OrchestratorProcess, spawnOrchestrator } from '../support/process.ts';
import { client, eventually, freshDomain, redisUrl } from '../support/redis.ts';

// Real listener processes whose Redis goes through a fault proxy that is
// killed and restarted under load, or partitions one instance long enough
// for another to take its tasks over.

const procs: OrchestratorProcess[] = [];
const proxies: FaultProxy[] = [];
afterEach(async () => {
  await Promise.all(procs.splice(0).map((p) => p.kill()));
  await Promise.all(proxies.splice(0).map((p) => p.close()));
});

const FAST = FAST_RECOVERY;

/** A small seeded generator: the same kill schedule on every run. */
function seeded(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}


async function setup(latency: string) {
  const { domain, keys } = freshDomain();
  const target = new URL(redisUrl());
  const proxy = await startFaultProxy({ host: target.hostname, port: Number(target.port) });
  proxies.push(proxy);
  const dir = mkdtempSync(join(tmpdir(), 'orch-proxy-'));
  const runLog = join(dir, 'runs.log');
  const launch = (agentId: string, url: string, extra: string[] = []) => {
    const p = spawnOrchestrator(
      ['--redis', url, '--domain', domain, '--agent-id', agentId, '--workspace', join(dir, `ws-${agentId}`), ...FAST, ...extra],
      { ORCH_SCRIPTED_LATENCY_MS: latency, ORCH_SCRIPTED_RUN_LOG: runLog },
    );
    procs.push(p);
    return p;
  };
  return { domain, keys, proxy, launch, runLog };
}

describe('fault proxy: kills and partitions', () => {
  it('a proxy killed and restarted at random moments under load: no task lost, failed, published twice or left active', async () => {
    const { domain, keys, proxy, launch, runLog } = await setup('db-worker=120,api-worker=100,auth-worker=150');
    const redis = client();
    const pubs = await countPublications();
    try {
      const listener = launch('kill-a', proxy.url, ['--concurrency', '4']);
      await listener.ready;
      const ids = await sendTasks(redis, keys, domain, 40);
      const random = seeded(19);
      const until = Date.now() + 8000;
      let kills = 0;
      while (Date.now() < until) {
        await new Promise((r) => setTimeout(r, 150 + random() * 550));
        await proxy.kill();
        kills++;
        await new Promise((r) => setTimeout(r, 20 + random() * 380));
        await proxy.restart();
      }
      const statuses = await allFinal(redis, ids, 45_000);
      expect(statuses.filter((s) => s !== 'completed'), 'tasks not completed').toEqual([]);
      await new Promise((r) => setTimeout(r, 300));
      expect(await deliveryViolations(redis, keys, ids, pubs.counts)).toEqual([]);
      expect(await redis.llen(keys.pending)).toBe(0);
      expect(await redis.llen(keys.deadLetters)).toBe(0);
      expect(rerunsAfterDone(runLog)).toEqual([]);
      expect(kills).toBeGreaterThan(5);
      expect(listener.child.exitCode).toBeNull();
    } finally {
      await pubs.close();
      await redis.quit();
    }
  }, 90_000);

  it('a holder partitioned long enough for a takeover: after the heal its progress and publication are refused, and it says so', async () => {
    // Slow enough that A still has work to do once B is up; the partition lasts until B has published.
    const { domain, keys, proxy, launch } = await setup('db-worker=4000,api-worker=3000,auth-worker=3000');
    const redis = client();
    const pubs = await countPublications();
    try {
      const a = launch('part-a', proxy.url, ['--concurrency', '4']);
      await a.ready;
      const ids = await sendTasks(redis, keys, domain, 4);
      // All four held by A, their first worker running.
      await eventually(
        async () => {
          const logs = await Promise.all(ids.map((id) => redis.lrange(keys.resultLogs(id), 0, -1)));
          const inside = (l: string[]) => l.some((x) => x.includes('db-worker started')) && !l.some((x) => x.includes('db-worker succeeded'));
          return logs.every(inside) ? true : undefined;
        },
        15_000,
        'A to run the first worker of every task',
      );
      // B is up before the cut (there is nothing left in the queue for it to claim).
      const b = launch('part-b', redisUrl(), ['--concurrency', '4']);
      await b.ready;
      proxy.cut();
      // B takes them over once A's heartbeat has expired, and publishes them, all during the partition.
      const statuses = await allFinal(redis, ids, 45_000);
      expect(statuses).toEqual(ids.map(() => 'completed'));
      proxy.heal();
      // A's worker results, made during the partition, reach Redis now: refused, and A says so.
      // Checked below, after the invariants (a holder without fencing never says it).
      await eventually(async () => (/stale holder/.test(a.output()) ? true : undefined), 15_000, 'A to say it is a stale holder').catch(() => undefined);
      await new Promise((r) => setTimeout(r, 1500)); // whatever else A had under way has landed
      expect(await deliveryViolations(redis, keys, ids, pubs.counts)).toEqual([]);
      expect(b.output()).toMatch(/took over a task whose holder stopped/);
      // On a loaded machine A may finish a task before the cut; those taken over are the scenario.
      const taken = await takenOverBy(redis, keys, ids, 'part-b');
      expect(taken.length, 'B took over at least one task').toBeGreaterThan(0);
      expect(publishedIn(a.output()).filter((id) => taken.includes(id))).toEqual([]);
      expect(a.output()).toMatch(/stale holder/);
      expect(a.child.exitCode).toBeNull();
    } finally {
      await pubs.close();
      await redis.quit();
    }
  }, 90_000);
});
