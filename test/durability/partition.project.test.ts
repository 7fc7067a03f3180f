import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { TaskOutput } from '../../src/protocol/output.ts';
import { startFaultProxy, type FaultProxy } from '../support/faultProxy.ts';
import { allFinal, countPublications, deliveryViolations, publishedIn, sendTasks, takenOverBy } from '../support/invariants.ts';
import { FAST_RECOVERY, type OrchestratorProcess, spawnOrchestrator } from '../support/process.ts';
import { gitIn, sampleProject } from '../support/project.ts';
import { client, eventually, freshDomain, redisUrl } from '../support/redis.ts';

// Issue 19's fourth finding, through real processes: A is cut off from Redis,
// B takes A's tasks over and publishes them; when A comes back its worker
// has finished meanwhile. A must not merge (its fencing token is stale), nor
// write a line after "result published": the project has to agree with the
// published results.

const procs: OrchestratorProcess[] = [];
const proxies: FaultProxy[] = [];
afterEach(async () => {
  await Promise.all(procs.splice(0).map((p) => p.kill()));
  await Promise.all(proxies.splice(0).map((p) => p.close()));
});

const FAST = FAST_RECOVERY;

describe('a partition in a git project (worktree)', () => {
  it('the holder cut off while another takes over and publishes does not merge when it comes back', async () => {
    const project = await sampleProject();
    const base = gitIn(project, 'rev-parse', 'main');
    const { domain, keys } = freshDomain();
    const target = new URL(redisUrl());
    const proxy = await startFaultProxy({ host: target.hostname, port: Number(target.port) });
    proxies.push(proxy);
    const dir = mkdtempSync(join(tmpdir(), 'orch-partition-project-'));
    const launch = (agentId: string, url: string) => {
      const p = spawnOrchestrator(
        ['--redis', url, '--domain', domain, '--agent-id', agentId, '--project', project, '--isolation', 'worktree', '--workspace', join(dir, agentId), ...FAST],
        { ORCH_SCRIPTED_LATENCY_MS: 'db-worker=4000,api-worker=3000,auth-worker=3000' },
      );
      procs.push(p);
      return p;
    };
    const redis = client();
    const pubs = await countPublications();
    try {
      const a = launch('proj-a', proxy.url);
      await a.ready;
      const ids = await sendTasks(redis, keys, domain, 2, 'Create user registration endpoint');
      // A has each task's worktree and is inside its first worker.
      await eventually(
        async () => {
          const logs = await Promise.all(ids.map((id) => redis.lrange(keys.resultLogs(id), 0, -1)));
          const inside = (l: string[]) => l.some((x) => x.includes('db-worker started')) && !l.some((x) => x.includes('db-worker succeeded'));
          return logs.every(inside) && a.output().split('task worktree ready').length > ids.length ? true : undefined;
        },
        20_000,
        "A inside every task's first worker",
      );
      // B is up before the cut (nothing is left in the queue for it); the cut lasts until B has published.
      const b = launch('proj-b', redisUrl());
      await b.ready;
      proxy.cut();
      await allFinal(redis, ids, 45_000);
      proxy.heal();
      // Checked below, after the invariants (a holder without fencing never says it).
      await eventually(async () => (/stale holder/.test(a.output()) ? true : undefined), 15_000, 'A to say it is a stale holder').catch(() => undefined);
      await new Promise((r) => setTimeout(r, 4000)); // A's workers that were still running finish (and, unfenced, it would merge)

      const messages = gitIn(project, 'log', '--format=%B', `${base}..main`);
      for (const id of ids) {
        const output = JSON.parse((await redis.hget(keys.result(id), 'output'))!) as TaskOutput;
        // The project agrees with the published result: the task is in main only if it was published as merged.
        if (!output.git?.merged) expect(messages, `task ${id} published as not merged, yet in main`).not.toContain(`Task-Id: ${id}`);
      }
      expect(await deliveryViolations(redis, keys, ids, pubs.counts)).toEqual([]);
      // On a loaded machine A may finish a task before the cut; those taken over are the scenario.
      const taken = await takenOverBy(redis, keys, ids, 'proj-b');
      expect(taken.length, 'B took over at least one task').toBeGreaterThan(0);
      expect(publishedIn(a.output()).filter((id) => taken.includes(id))).toEqual([]);
      expect(a.output()).toMatch(/stale holder/);
    } finally {
      await pubs.close();
      await redis.quit();
    }
  }, 90_000);
});
