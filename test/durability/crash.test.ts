import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildTaskMessage, sendTask } from '../../src/client/send.ts';
import { FAST_RECOVERY, type OrchestratorProcess, spawnOrchestrator } from '../support/process.ts';
import { client, eventually, freshDomain, redisUrl } from '../support/redis.ts';

// Real orchestrator processes on a real Redis, killed with SIGKILL at varied
// moments. For every task: exactly one published result, no worker that had
// finished (its result checkpointed) run again, nothing left in tasks:active.

const procs: OrchestratorProcess[] = [];
afterEach(async () => {
  await Promise.all(procs.splice(0).map((p) => p.kill()));
});

const FAST = [...FAST_RECOVERY, '--concurrency', '4'];

function setup(latency = 'db-worker=250,api-worker=200,auth-worker=300') {
  const { domain, keys } = freshDomain();
  const dir = mkdtempSync(join(tmpdir(), 'orch-crash-'));
  const runLog = join(dir, 'runs.log');
  const env = { ORCH_SCRIPTED_LATENCY_MS: latency, ORCH_SCRIPTED_RUN_LOG: runLog };
  const launch = (agentId: string) => {
    const p = spawnOrchestrator(['--redis', redisUrl(), '--domain', domain, '--agent-id', agentId, '--workspace', join(dir, 'ws'), ...FAST], env);
    procs.push(p);
    return p;
  };
  return { domain, keys, runLog, launch };
}

/** Counts result publications per task on the peers' channels. */
async function countPublications() {
  const sub = client();
  const counts = new Map<string, number>();
  await sub.psubscribe('results:*');
  sub.on('pmessage', (_p, channel) => counts.set(channel.slice('results:'.length), (counts.get(channel.slice('results:'.length)) ?? 0) + 1));
  return { counts, close: () => sub.quit() };
}

function checkRunLog(path: string): string[] {
  const violations: string[] = [];
  const done = new Set<string>();
  if (!existsSync(path)) return violations;
  for (const line of readFileSync(path, 'utf8').split('\n').filter(Boolean)) {
    const [what, task, worker] = line.split(' ');
    const key = `${task} ${worker}`;
    if (what === 'start' && done.has(key)) violations.push(`${key} ran again after it had finished`);
    if (what === 'done') done.add(key);
  }
  return violations;
}

async function sendMany(redis: ReturnType<typeof client>, keys: ReturnType<typeof freshDomain>['keys'], domain: string, n: number) {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const m = buildTaskMessage({ description: 'Create a REST API for blog posts with authentication', taskId: randomUUID() }, domain);
    await sendTask(redis, keys, m);
    ids.push(m.task_id);
  }
  return ids;
}

async function allFinal(redis: ReturnType<typeof client>, ids: string[], ms: number) {
  return eventually(async () => {
    const statuses = await Promise.all(ids.map((id) => redis.hget(`results:${id}`, 'status')));
    return statuses.every((s) => s === 'completed' || s === 'failed') ? statuses : undefined;
  }, ms, 'every task to have a final result');
}

describe('crash suite (SIGKILL)', () => {
  it('a holder killed between workers and restarted under the same id resumes at once, rerunning nothing finished', async () => {
    const { domain, keys, runLog, launch } = setup();
    const redis = client();
    const pubs = await countPublications();
    try {
      const a = launch('crash-a');
      await a.ready;
      const ids = await sendMany(redis, keys, domain, 6);
      // db-worker (250 ms) of the first four has finished; api and auth are running.
      await eventually(async () => (existsSync(runLog) && readFileSync(runLog, 'utf8').includes('done') ? true : undefined), 10_000, 'a finished worker');
      await new Promise((r) => setTimeout(r, 60));
      await a.kill('SIGKILL');
      const before = Date.now();
      const again = launch('crash-a');
      await again.ready;
      const statuses = await allFinal(redis, ids, 30_000);
      expect(statuses).toEqual(ids.map(() => 'completed'));
      // It did not wait for its old heartbeat to expire (TTL 1 s) before resuming.
      expect(Date.now() - before).toBeLessThan(15_000);
      expect(checkRunLog(runLog)).toEqual([]);
      expect(await redis.llen(keys.active)).toBe(0);
      await new Promise((r) => setTimeout(r, 200));
      for (const id of ids) expect(pubs.counts.get(id), id).toBe(1);
      // Some task really was resumed mid-way: db finished in the first life, the rest ran in the second.
      const lines = readFileSync(runLog, 'utf8').split('\n').filter(Boolean).map((l) => l.split(' '));
      const firstPid = String(a.child.pid);
      const resumed = ids.filter(
        (id) =>
          lines.some(([w, t, k, pid]) => w === 'done' && t === id && k === 'db-worker' && pid === firstPid) &&
          lines.some(([w, t, , pid]) => w === 'start' && t === id && pid === String(again.child.pid)),
      );
      expect(resumed.length).toBeGreaterThan(0);
    } finally {
      await pubs.close();
      await redis.quit();
    }
  }, 60_000);

  it('a second instance takes over the tasks of a killed one once its heartbeat expires', async () => {
    // Long enough that the first instance is still busy when the second has started, on a loaded machine too.
    const { domain, keys, runLog, launch } = setup('5000');
    const redis = client();
    const pubs = await countPublications();
    try {
      const a = launch('crash-b1');
      await a.ready;
      const ids = await sendMany(redis, keys, domain, 4);
      await eventually(async () => ((await redis.llen(keys.active)) === 4 ? true : undefined));
      // Killed before the second starts: on a loaded machine starting a process can outlast the tasks.
      await a.kill('SIGKILL');
      const b = launch('crash-b2');
      await b.ready;
      expect(await allFinal(redis, ids, 30_000)).toEqual(ids.map(() => 'completed'));
      expect(checkRunLog(runLog)).toEqual([]);
      expect(await redis.llen(keys.active)).toBe(0);
      await new Promise((r) => setTimeout(r, 200));
      for (const id of ids) expect(pubs.counts.get(id), id).toBe(1);
      expect(b.output()).toMatch(/took over a task whose holder stopped/);
    } finally {
      await pubs.close();
      await redis.quit();
    }
  }, 60_000);

  it('survives repeated kills at varied moments (claiming, between workers, publishing) with one result per task', async () => {
    const { domain, keys, runLog, launch } = setup();
    const redis = client();
    const pubs = await countPublications();
    try {
      const ids = await sendMany(redis, keys, domain, 12);
      for (const delay of [700, 150, 420, 900, 260]) {
        const p = launch('crash-c');
        await p.ready;
        await new Promise((r) => setTimeout(r, delay));
        await p.kill('SIGKILL');
      }
      const last = launch('crash-c');
      await last.ready;
      const statuses = await allFinal(redis, ids, 45_000);
      // A task that crashed its holder more than 3 times is failed and dead-lettered, never lost.
      for (const [i, s] of statuses.entries()) {
        if (s === 'failed') expect(await redis.hget(`results:${ids[i]}`, 'error')).toMatch(/crashed its holder/);
      }
      expect(statuses.filter((s) => s === 'completed').length).toBeGreaterThan(0);
      expect(checkRunLog(runLog)).toEqual([]);
      expect(await redis.llen(keys.active)).toBe(0);
      expect(await redis.llen(keys.pending)).toBe(0);
      await new Promise((r) => setTimeout(r, 200));
      for (const id of ids) expect(pubs.counts.get(id), id).toBe(1);
    } finally {
      await pubs.close();
      await redis.quit();
    }
  }, 90_000);

  it('on SIGTERM hands unfinished tasks off to another instance without counting a crash', async () => {
    const { domain, keys, runLog, launch } = setup();
    const redis = client();
    try {
      const a = spawnOrchestrator(
        ['--redis', redisUrl(), '--domain', domain, '--agent-id', 'term-a', '--workspace', join(tmpdir(), 'orch-term'), ...FAST, '--shutdown-grace-ms', '100'],
        { ORCH_SCRIPTED_LATENCY_MS: '1500', ORCH_SCRIPTED_RUN_LOG: runLog },
      );
      procs.push(a);
      await a.ready;
      const [id] = await sendMany(redis, keys, domain, 1);
      await eventually(async () => ((await redis.hget(keys.checkpoint(id!), 'owner')) === 'term-a' ? true : undefined));
      expect(await a.kill('SIGTERM')).toBe(0);
      expect(await redis.hget(keys.checkpoint(id!), 'handoff')).toBe('1');
      expect(await redis.sismember(`agents:domains:${domain}`, 'term-a')).toBe(0);
      launch('term-b');
      const [status] = await allFinal(redis, [id!], 30_000);
      expect(status).toBe('completed');
      const output = JSON.parse((await redis.hget(`results:${id}`, 'output'))!) as { status: string };
      expect(output.status).toBe('completed');
    } finally {
      await redis.quit();
    }
  }, 60_000);
});
