import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildTaskMessage, sendTask } from '../../src/client/send.ts';
import type { TaskOutput, WorkerResult } from '../../src/protocol/output.ts';
import { probeBox } from '../../src/workers/box/index.ts';
import { FAST_RECOVERY, type OrchestratorProcess, spawnOrchestrator } from '../support/process.ts';
import { gitIn, sampleProject } from '../support/project.ts';
import { client, eventually, freshDomain, redisUrl } from '../support/redis.ts';

// A real orchestrator process in box isolation, SIGKILLed at a random moment
// while a task's later workers run in its box: no box process or mount may
// outlive it, the next start removes its layer stack, and the task resumes
// from the finished worker's commit, merged once.

const procs: OrchestratorProcess[] = [];
afterEach(async () => {
  await Promise.all(procs.splice(0).map((p) => p.kill()));
});

/** Processes whose command line names `needle` (box processes carry the layer folders of their listener's workspace). */
const processesNaming = (needle: string): string[] =>
  execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.includes(needle) && !l.includes('ps -eo'));

const why = await probeBox();

describe.skipIf(why !== undefined)('crash suite with --isolation box (SIGKILL)', () => {
  it('a listener killed at a random moment leaves no box process, mount or half-written file, and the task resumes from its last commit', async () => {
    const project = await sampleProject();
    const base = gitIn(project, 'rev-parse', 'main');
    const { domain, keys } = freshDomain();
    const dir = mkdtempSync(join(tmpdir(), 'orch-crash-box-'));
    const workspace = join(dir, 'ws');
    const runLog = join(dir, 'runs.log');
    const launch = (latency: string) => {
      const p = spawnOrchestrator(
        ['--redis', redisUrl(), '--domain', domain, '--agent-id', `${domain}-a`, '--project', project, '--isolation', 'box', '--workspace', workspace, ...FAST_RECOVERY],
        { ORCH_SCRIPTED_LATENCY_MS: latency, ORCH_SCRIPTED_RUN_LOG: runLog },
      );
      procs.push(p);
      return p;
    };
    const redis = client();
    try {
      // db-worker finishes at once; api and auth take a while between their turns, writing in the box meanwhile.
      // A turn takes longer than the longest random wait below, so the kill always lands before the task could finish.
      const first = launch('db-worker=50,api-worker=4000,auth-worker=4000');
      await first.ready;
      const m = buildTaskMessage({ description: 'Create user registration endpoint' }, domain);
      await sendTask(redis, keys, m);
      const id = m.task_id;
      const saved = await eventually(async () => {
        const text = await redis.hget(keys.checkpoint(id), 'result:db-worker');
        return text ? (JSON.parse(text) as WorkerResult) : undefined;
      }, 30_000, 'db-worker result in the checkpoint').catch((error: unknown) => {
        throw new Error(`${String(error)}\n${first.output().slice(-3000)}`);
      });
      await eventually(async () => (existsSync(runLog) && readFileSync(runLog, 'utf8').includes(`start ${id} api-worker`) ? true : undefined), 10_000, 'api-worker started');
      expect(processesNaming(workspace).length).toBeGreaterThan(0); // the task's box is up
      const stacks = readdirSync(join(workspace, '.layers'));
      expect(stacks).toHaveLength(1);
      // A random moment in the later workers' run: before, during or after their first writes.
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 3000)));
      await first.kill('SIGKILL');
      expect(['completed', 'failed'], 'the kill landed after the task finished').not.toContain(await redis.hget(`results:${id}`, 'status'));

      // Nothing of the box outlives its listener: no process, and no mount in the host's table.
      await eventually(async () => (processesNaming(workspace).length === 0 ? true : undefined), 10_000, 'no box process left');
      expect(readFileSync('/proc/self/mounts', 'utf8')).not.toContain(workspace);

      const again = launch('0');
      await again.ready;
      const record = await eventually(async () => {
        const h = await redis.hgetall(`results:${id}`);
        return h.status === 'completed' || h.status === 'failed' ? h : undefined;
      }, 60_000, "the resumed task's result");
      expect(record.status).toBe('completed');
      const output = JSON.parse(record.output!) as TaskOutput;
      // The dead listener's layer stack went at the next start; the new one's goes at its stop.
      expect(readdirSync(join(workspace, '.layers'))).not.toContain(stacks[0]);
      // The finished worker was not run again; its commit is the one made before the kill, and the view was replayed to it.
      expect(output.git?.commits['db-worker']).toBe(saved.commit);
      expect(readFileSync(runLog, 'utf8').split('\n').filter((l) => l.startsWith(`start ${id} db-worker`))).toHaveLength(1);
      expect(again.output()).toContain(`"reset_to":"${saved.commit}"`);
      // Merged once, a commit per worker; every commit's files are whole (what a dead worker half-wrote died with its box).
      expect(output.git?.merged).toBe(gitIn(project, 'rev-parse', 'main'));
      expect(gitIn(project, 'rev-list', '--count', `${base}..main`)).toBe('3');
      expect(gitIn(project, 'log', '--format=%s', 'main').split('\n').filter((s) => s.startsWith('db-worker:'))).toHaveLength(1);
      expect(gitIn(project, 'status', '--porcelain')).toBe('');
      expect(gitIn(project, 'worktree', 'list')).not.toContain('\n');
      await again.kill('SIGTERM');
      expect(processesNaming(workspace)).toEqual([]);
    } finally {
      await redis.quit();
    }
  }, 120_000);
});
