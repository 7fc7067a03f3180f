import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildTaskMessage, sendTask } from '../../src/client/send.ts';
import type { TaskOutput, WorkerResult } from '../../src/protocol/output.ts';
import { taskDirName } from '../../src/workers/taskDirName.ts';
import { FAST_RECOVERY, type OrchestratorProcess, spawnOrchestrator } from '../support/process.ts';
import { gitIn, sampleProject } from '../support/project.ts';
import { client, eventually, freshDomain, redisUrl } from '../support/redis.ts';

// Two real listeners on one host and one git project, each with its own
// workspace (as docs/operations.md, "Running N instances", prescribes): A is SIGKILLed with its tasks in
// flight and B takes them over. The task branches are still checked out in
// A's worktrees; B must be able to use them, finish every task, and leave no
// worktree registered.

const procs: OrchestratorProcess[] = [];
afterEach(async () => {
  await Promise.all(procs.splice(0).map((p) => p.kill()));
});

const FAST = [...FAST_RECOVERY, '--concurrency', '4'];

describe('takeover by another instance in a git project (SIGKILL)', () => {
  it("B takes A's tasks over from A's worktrees, completes and merges all of them, and no worktree stays registered", async () => {
    const project = await sampleProject();
    const base = gitIn(project, 'rev-parse', 'main');
    const { domain, keys } = freshDomain();
    const dir = mkdtempSync(join(tmpdir(), 'orch-takeover-'));
    const runLog = join(dir, 'runs.log');
    const launch = (name: string, latency: string) => {
      const p = spawnOrchestrator(
        ['--redis', redisUrl(), '--domain', domain, '--agent-id', `${domain}-${name}`, '--project', project, '--isolation', 'worktree', '--workspace', join(dir, `wt-${name}`), ...FAST],
        { ORCH_SCRIPTED_LATENCY_MS: latency, ORCH_SCRIPTED_RUN_LOG: runLog },
      );
      procs.push(p);
      return p;
    };
    const redis = client();
    try {
      // db-worker finishes quickly; api-worker waits long enough to be killed while running.
      const a = launch('a', 'db-worker=50,api-worker=60000');
      await a.ready;
      const ids: string[] = [];
      for (const what of ['blog posts', 'products', 'comments']) {
        const m = buildTaskMessage({ description: `Create a REST API for ${what}` }, domain);
        await sendTask(redis, keys, m);
        ids.push(m.task_id);
      }
      for (const id of ids) {
        await eventually(async () => {
          const text = await redis.hget(keys.checkpoint(id), 'result:db-worker');
          return text && (JSON.parse(text) as WorkerResult).commit ? true : undefined;
        }, 20_000, `db-worker's commit of ${id}`);
        await eventually(async () => (readFileSync(runLog, 'utf8').includes(`start ${id} api-worker`) ? true : undefined), 10_000, `api-worker of ${id} started`);
      }
      // A holds all three, each checked out in a worktree of A's workspace.
      for (const id of ids) expect(await redis.hget(keys.checkpoint(id), 'owner')).toBe(`${domain}-a`);
      expect(gitIn(project, 'worktree', 'list', '--porcelain').split('\n').filter((l) => l.startsWith('worktree ')).length).toBe(4);
      await a.kill('SIGKILL');

      const b = launch('b', 'api-worker=100');
      await b.ready;
      const outputs: TaskOutput[] = [];
      for (const id of ids) {
        const record = await eventually(async () => {
          const h = await redis.hgetall(`results:${id}`);
          return h.status === 'completed' || h.status === 'failed' ? h : undefined;
        }, 30_000, `the result of ${id}`);
        const output = JSON.parse(record.output!) as TaskOutput;
        expect(output.outcome, JSON.stringify(output.issues)).toBe('completed');
        expect(await redis.hget(keys.checkpoint(id), 'owner')).toBeNull(); // published, checkpoint gone
        outputs.push(output);
      }
      // B said it took the branches over from A's worktrees.
      expect(b.output()).toContain("took the task's branch over from an earlier holder's worktree");
      // Nothing left registered: only the project folder itself.
      const listed = gitIn(project, 'worktree', 'list', '--porcelain').split('\n').filter((l) => l.startsWith('worktree '));
      expect(listed).toEqual([`worktree ${gitIn(project, 'rev-parse', '--show-toplevel')}`]);
      // Every task is in main, with its finished db-worker commit made by A, and the project folder is clean.
      const main = gitIn(project, 'rev-parse', 'main');
      for (const [i, id] of ids.entries()) {
        const output = outputs[i]!;
        expect(() => gitIn(project, 'merge-base', '--is-ancestor', output.git!.commits['db-worker']!, 'main')).not.toThrow();
        expect(gitIn(project, 'log', '--format=%b', `${base}..main`)).toContain(`Task-Id: ${id}`);
        expect(existsSync(join(dir, 'wt-b', taskDirName(id)))).toBe(false);
      }
      for (const f of ['src/routes/posts.js', 'src/routes/products.js', 'src/routes/comments.js']) expect(existsSync(join(project, f)), f).toBe(true);
      expect(gitIn(project, 'status', '--porcelain')).toBe('');
      expect(gitIn(project, 'rev-parse', 'HEAD')).toBe(main);
      // The finished db-workers were not run again by B.
      const runs = readFileSync(runLog, 'utf8').split('\n');
      for (const id of ids) expect(runs.filter((l) => l.startsWith(`start ${id} db-worker`))).toHaveLength(1);

      // A restarted under its own id finds its old folders orphaned and removes them.
      await b.kill('SIGTERM');
      const again = launch('a', '0');
      await again.ready;
      for (const id of ids) expect(existsSync(join(dir, 'wt-a', taskDirName(id)))).toBe(false);
      expect(again.output()).toContain('removed task worktree folders git no longer knows');
    } finally {
      await redis.quit();
    }
  }, 90_000);
});
