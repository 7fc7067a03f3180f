import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildTaskMessage, sendTask } from '../../src/client/send.ts';
import type { TaskOutput } from '../../src/protocol/output.ts';
import { probeBox } from '../../src/workers/box/index.ts';
import { FAST_RECOVERY, type OrchestratorProcess, spawnOrchestrator } from '../support/process.ts';
import { gitIn, sampleProject } from '../support/project.ts';
import { client, eventually, freshDomain, redisUrl } from '../support/redis.ts';

// A real orchestrator process with checks, SIGKILLed while its task verifies
// and while a fix round runs: the next holder resumes it, no worker that had
// finished runs again, the checks go on, and the branch is merged once.

const procs: OrchestratorProcess[] = [];
afterEach(async () => {
  await Promise.all(procs.splice(0).map((p) => p.kill()));
});

const why = await probeBox();

async function setUp(verify: string[], latency: string, extra: string[] = []) {
  const project = await sampleProject();
  const base = gitIn(project, 'rev-parse', 'main');
  const { domain, keys } = freshDomain();
  const dir = mkdtempSync(join(tmpdir(), 'orch-crash-checks-'));
  const runLog = join(dir, 'runs.log');
  const launch = (lat: string) => {
    const p = spawnOrchestrator(
      ['--redis', redisUrl(), '--domain', domain, '--agent-id', `${domain}-a`, '--project', project, '--isolation', 'box', '--workspace', join(dir, 'ws'),
        ...verify.flatMap((v) => ['--verify', v]), ...extra, ...FAST_RECOVERY],
      { ORCH_SCRIPTED_LATENCY_MS: lat, ORCH_SCRIPTED_RUN_LOG: runLog },
    );
    procs.push(p);
    return p;
  };
  const redis = client();
  const first = launch(latency);
  await first.ready;
  const m = buildTaskMessage({ description: 'Create user registration endpoint' }, domain);
  await sendTask(redis, keys, m);
  const logs = () => redis.lrange(`results:${m.task_id}:logs`, 0, -1).then((l) => l.join('\n'));
  const checkpointLines = async () => (await redis.hgetall(keys.checkpoint(m.task_id)));
  const result = async () => {
    const h = await eventually(async () => {
      const r = await redis.hgetall(`results:${m.task_id}`);
      return r.status === 'completed' || r.status === 'failed' ? r : undefined;
    }, 90_000, "the resumed task's result");
    return { record: h, output: JSON.parse(h.output!) as TaskOutput };
  };
  const starts = (worker: string) => readFileSync(runLog, 'utf8').split('\n').filter((l) => l.startsWith(`start ${m.task_id} ${worker} `));
  return { project, base, keys, id: m.task_id, redis, first, launch, logs, checkpointLines, result, starts };
}

describe.skipIf(why !== undefined)('crash suite with checks (SIGKILL)', () => {
  it('killed while verifying: the next holder runs the checks again, reruns no worker, merges once', async () => {
    const t = await setUp(['sleep 4; test -f package.json'], '0');
    try {
      // The checks are running: the checkpoint shows no check yet, the log shows the verify step began.
      await eventually(async () => ((await t.checkpointLines())['result:auth-worker'] ? true : undefined), 30_000, 'every worker finished');
      await new Promise((r) => setTimeout(r, 1500));
      await t.first.kill('SIGKILL');
      expect(await t.redis.hget(`results:${t.id}`, 'status')).not.toMatch(/completed|failed/);
      const again = t.launch('0');
      await again.ready;
      const { record, output } = await t.result();
      expect(record.status).toBe('completed');
      expect(output.checks).toEqual([expect.objectContaining({ passed: true, exit_code: 0 })]);
      for (const w of ['db-worker', 'api-worker', 'auth-worker']) expect(t.starts(w), w).toHaveLength(1);
      expect(output.git?.merged).toBe(gitIn(t.project, 'rev-parse', 'main'));
      // Merged once (a fast-forward or one merge commit), and the finished db-worker committed once.
      expect(Number(gitIn(t.project, 'rev-list', '--count', '--merges', `${t.base}..main`))).toBeLessThanOrEqual(1);
      expect(gitIn(t.project, 'log', '--format=%s', 'main').split('\n').filter((s) => s.startsWith('db-worker:'))).toHaveLength(1);
    } finally {
      await t.redis.quit();
    }
  }, 150_000);

  it('killed in a fix round: the round resumes with its unfinished workers only, then the checks pass, merged once', async () => {
    // The check fails once per box (it leaves a mark in the layer, which is not committed): the first run fails,
    // the fix round runs, the kill lands in it; the next holder's new box fails the check once more, then passes.
    const check = 'test -f .checked-once && exit 0; touch .checked-once; echo "first run fails"; exit 1';
    const t = await setUp([check], 'db-worker=0,api-worker=0,auth-worker=0', ['--fix-rounds', '3']);
    try {
      await eventually(async () => ((await t.logs()).includes('fix round 1/3') ? true : undefined), 60_000, 'a fix round began');
      const before = { db: t.starts('db-worker').length, api: t.starts('api-worker').length, auth: t.starts('auth-worker').length };
      await t.first.kill('SIGKILL');
      const fix = JSON.parse((await t.checkpointLines()).fix ?? 'null') as { round: number; workers: string[] } | null;
      expect(fix?.round).toBe(1);
      const again = t.launch('0');
      await again.ready;
      const { record, output } = await t.result();
      expect(record.status).toBe('completed');
      expect(output.checks).toEqual([expect.objectContaining({ passed: true, exit_code: 0 })]);
      expect(output.checks![0]!.rounds).toBeGreaterThanOrEqual(2);
      // Workers the round did not send the failure to never ran again; the round's workers ran at most once more each per round.
      for (const [w, n] of Object.entries(before)) {
        const worker = `${w}-worker`;
        if (!fix!.workers.includes(worker)) expect(t.starts(worker), worker).toHaveLength(n);
      }
      expect(output.git?.merged).toBe(gitIn(t.project, 'rev-parse', 'main'));
      // Merged once (a fast-forward or one merge commit), and the finished db-worker committed once.
      expect(Number(gitIn(t.project, 'rev-list', '--count', '--merges', `${t.base}..main`))).toBeLessThanOrEqual(1);
      // Every commit of a worker is a run of it that finished (a fix run commits again under its name); none twice.
      for (const w of ['db-worker', 'api-worker', 'auth-worker']) {
        const commits = gitIn(t.project, 'log', '--format=%s', 'main').split('\n').filter((s) => s.startsWith(`${w}:`)).length;
        expect(commits, w).toBeGreaterThanOrEqual(1);
        expect(commits, w).toBeLessThanOrEqual(t.starts(w).length);
      }
      expect((await t.logs())).toMatch(/fix round \d\/3/);
    } finally {
      await t.redis.quit();
    }
  }, 150_000);
});
