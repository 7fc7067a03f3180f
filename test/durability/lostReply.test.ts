import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RECORD_PROGRESS } from '../../src/redis/progress.ts';
import { RECORD_CLAIMS } from '../../src/redis/queue.ts';
import { PUBLISH } from '../../src/redis/results.ts';
import { scriptCall, startFaultProxy, type FaultProxy } from '../support/faultProxy.ts';
import { allFinal, countPublications, deliveryViolations, rerunsAfterDone, sendTasks } from '../support/invariants.ts';
import { FAST_RECOVERY, type OrchestratorProcess, spawnOrchestrator } from '../support/process.ts';
import { client, freshDomain, redisUrl } from '../support/redis.ts';

// A real listener process whose Redis connection goes through a fault proxy
// that lets one command run and then drops the connection before its reply:
// the listener must neither lose the task, nor fail it, nor do its part twice.

const procs: OrchestratorProcess[] = [];
const proxies: FaultProxy[] = [];
afterEach(async () => {
  await Promise.all(procs.splice(0).map((p) => p.kill()));
  await Promise.all(proxies.splice(0).map((p) => p.close()));
});

const FAST = [...FAST_RECOVERY, '--concurrency', '4'];

async function setup() {
  const { domain, keys } = freshDomain();
  const target = new URL(redisUrl());
  const proxy = await startFaultProxy({ host: target.hostname, port: Number(target.port) });
  proxies.push(proxy);
  const dir = mkdtempSync(join(tmpdir(), 'orch-lost-'));
  const runLog = join(dir, 'runs.log');
  const launch = (agentId: string) => {
    const p = spawnOrchestrator(['--redis', proxy.url, '--domain', domain, '--agent-id', agentId, '--workspace', join(dir, 'ws'), ...FAST], {
      ORCH_SCRIPTED_LATENCY_MS: 'db-worker=100,api-worker=80,auth-worker=120',
      ORCH_SCRIPTED_RUN_LOG: runLog,
    });
    procs.push(p);
    return p;
  };
  return { domain, keys, proxy, launch, runLog };
}


const within = <T>(p: Promise<T>, ms: number, what: string) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms))]);

describe('a reply lost after its command ran (fault proxy)', () => {
  it.each([
    ['the claim script', scriptCall(RECORD_CLAIMS)],
    ["a finished worker's checkpoint save", scriptCall(RECORD_PROGRESS, (args) => args.some((a) => a.toString('latin1').startsWith('result:')))],
    ['the publication', scriptCall(PUBLISH)],
  ])('%s: every task completes once, nothing is dead-lettered, failed or run twice', async (_what, match) => {
    const { domain, keys, proxy, launch, runLog } = await setup();
    const redis = client();
    const pubs = await countPublications();
    try {
      const lost = proxy.loseReply(match);
      const listener = launch('lost-a');
      await listener.ready;
      const ids = await sendTasks(redis, keys, domain, 4);
      await within(lost, 20_000, 'the reply to be lost');
      const statuses = await allFinal(redis, ids, 30_000);
      expect(statuses).toEqual(ids.map(() => 'completed'));
      await new Promise((r) => setTimeout(r, 300)); // a second publication, if any, has landed
      expect(await deliveryViolations(redis, keys, ids, pubs.counts)).toEqual([]);
      expect(await redis.llen(keys.deadLetters)).toBe(0);
      expect(rerunsAfterDone(runLog)).toEqual([]);
      for (const id of ids) {
        const logs = await redis.lrange(keys.resultLogs(id), 0, -1);
        expect(logs.length - new Set(logs).size, `a line written twice for ${id}`).toBe(0);
      }
      expect(listener.output()).not.toMatch(/another instance|stale holder/);
      expect(proxy.stats.lost).toBe(1);
    } finally {
      await pubs.close();
      await redis.quit();
    }
  }, 60_000);
});
