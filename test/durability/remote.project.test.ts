import { mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { buildTaskMessage, sendTask } from '../../src/client/send.ts';
import type { Keys } from '../../src/protocol/keys.ts';
import type { TaskOutput, WorkerResult } from '../../src/protocol/output.ts';
import { FAST_RECOVERY, type OrchestratorProcess, spawnOrchestrator } from '../support/process.ts';
import { gitIn } from '../support/project.ts';
import { client, eventually, freshDomain, redisUrl } from '../support/redis.ts';
import { bareRemote, personClone, pushFrom, raceHook } from '../support/remote.ts';

// Remote mode through whole listener processes: each instance has a
// workspace of its own (no folder shared between them, as on two hosts) and
// one bare repository on loopback (file://) is the project.

const procs: OrchestratorProcess[] = [];
afterEach(async () => {
  await Promise.all(procs.splice(0).map((p) => p.kill()));
});

type Launch = (name: string, extra?: string[], env?: NodeJS.ProcessEnv) => OrchestratorProcess;

function setUp(url: string): { launch: Launch; domain: string; keys: Keys; dir: string } {
  const { domain, keys } = freshDomain();
  const dir = mkdtempSync(join(tmpdir(), 'orch-remote-listeners-'));
  const launch: Launch = (name, extra = [], env = {}) => {
    const p = spawnOrchestrator(
      ['--redis', redisUrl(), '--domain', domain, '--agent-id', `${domain}-${name}`, '--project', url, '--workspace', join(dir, `ws-${name}`), ...FAST_RECOVERY, '--concurrency', '4', ...extra],
      env,
    );
    procs.push(p);
    return p;
  };
  return { launch, domain, keys, dir };
}

async function send(redis: Redis, keys: Keys, domain: string, description: string): Promise<string> {
  const m = buildTaskMessage({ description }, domain);
  await sendTask(redis, keys, m);
  return m.task_id;
}

async function resultOf(redis: Redis, id: string, ms = 60_000): Promise<{ status: string; output: TaskOutput }> {
  const h = await eventually(async () => {
    const r = await redis.hgetall(`results:${id}`);
    return r.status === 'completed' || r.status === 'failed' ? r : undefined;
  }, ms, `the result of ${id}`);
  return { status: h.status!, output: JSON.parse(h.output!) as TaskOutput };
}

/** Merge commits of a task on the remote's main (a fast-forward makes none). */
const mergesOf = (bare: string, base: string, id: string): number =>
  gitIn(bare, 'log', '--format=%s', `${base}..main`).split('\n').filter((s) => s.startsWith(`Merge task ${id}`)).length;

describe('a git remote as the shared project (two listener processes, no shared folder)', () => {
  it('tasks sent to two instances are all merged on the remote, none lost or merged twice; a branch moved by a person is merged onto', async () => {
    const { bare, url } = await bareRemote();
    const base = gitIn(bare, 'rev-parse', 'main');
    const { launch, domain, keys } = setUp(url);
    const redis = client();
    try {
      const a = launch('a', ['--isolation', 'worktree']);
      const b = launch('b', ['--isolation', 'worktree']);
      await Promise.all([a.ready, b.ready]);
      // A push race: the first push of a merge to main finds that a person's commit landed on main between
      // that instance's fetch and its push (the remote's hook puts it there): refused, merged again on top.
      const person = personClone(url);
      writeFileSync(join(person, 'NOTES.md'), 'a person was here\n');
      gitIn(person, 'add', '-A');
      gitIn(person, 'commit', '-qm', 'person: notes');
      gitIn(person, 'push', '-q', 'origin', 'HEAD:refs/heads/person-side');
      const theirs = gitIn(person, 'rev-parse', 'HEAD');
      const raced = raceHook(bare, theirs, 1);
      const topics = ['blog posts', 'products', 'comments', 'orders', 'invoices', 'tags'];
      const ids: string[] = [];
      for (const t of topics) ids.push(await send(redis, keys, domain, `Create a REST API for ${t}`));
      const outputs = await Promise.all(ids.map((id) => resultOf(redis, id)));
      for (const [i, { status, output }] of outputs.entries()) {
        expect(status, JSON.stringify(output.issues)).toBe('completed');
        expect(output.outcome).toBe('completed');
        expect(output.git?.remote).toBe(url);
        expect(output.git?.pushed).toBe(true);
        expect(output.git?.merged).toMatch(/^[0-9a-f]{40}$/);
        // On the remote's main exactly once, and the branch was pushed.
        expect(mergesOf(bare, base, ids[i]!)).toBeLessThanOrEqual(1);
        expect(() => gitIn(bare, 'merge-base', '--is-ancestor', output.git!.merged!, 'main')).not.toThrow();
        expect(gitIn(bare, 'rev-parse', `refs/heads/${output.git!.branch}`)).toMatch(/^[0-9a-f]{40}$/);
      }
      // Both instances did some of the work (the queue is shared), and everything is on main, with the person's commit.
      expect(() => gitIn(bare, 'merge-base', '--is-ancestor', theirs, 'main')).not.toThrow();
      for (const t of ['posts', 'products', 'comments', 'orders', 'invoices', 'tags']) {
        expect(gitIn(bare, 'ls-tree', '--name-only', 'main', `src/routes/${t}.js`), t).toBe(`src/routes/${t}.js`);
      }
      const owners = new Set(outputs.map((o) => o.output.git!.kept_in?.instance));
      expect(owners).toEqual(new Set([undefined]));
      // Nothing merged twice, nothing lost: every worker commit of every task is on main, each once.
      const onMain = gitIn(bare, 'rev-list', `${base}..main`).split('\n');
      for (const { output } of outputs) for (const sha of Object.values(output.git!.commits)) expect(onMain.filter((c) => c === sha)).toHaveLength(1);
      // Several merges met a main another instance (or the person) had moved: they were merged onto it, some after a refused push.
      const retried = outputs.reduce((n, o) => n + (o.output.git!.merge_retries ?? 0), 0);
      console.log(`remote merges of ${ids.length} tasks over 2 instances: ${retried} push(es) refused and retried`);
      expect(readFileSync(raced, 'utf8').trim()).toBe('1');
      expect(retried).toBeGreaterThanOrEqual(1);
      expect(a.output() + b.output()).toContain('moved on the remote between the fetch and the push');
    } finally {
      await redis.quit();
    }
  }, 120_000);

  it("a listener SIGKILLed after its workers' commits were pushed: the other resumes the task from the remote and merges it", async () => {
    const { bare, url } = await bareRemote();
    const base = gitIn(bare, 'rev-parse', 'main');
    const { launch, domain, keys, dir } = setUp(url);
    const runLog = join(dir, 'runs.log');
    const redis = client();
    try {
      const a = launch('a', ['--isolation', 'worktree'], { ORCH_SCRIPTED_LATENCY_MS: 'db-worker=50,api-worker=60000', ORCH_SCRIPTED_RUN_LOG: runLog });
      await a.ready;
      const id = await send(redis, keys, domain, 'Create a REST API for blog posts');
      const dbCommit = await eventually(async () => {
        const text = await redis.hget(keys.checkpoint(id), 'result:db-worker');
        return text ? (JSON.parse(text) as WorkerResult).commit : undefined;
      }, 30_000, "db-worker's commit");
      await eventually(async () => (readFileSync(runLog, 'utf8').includes(`start ${id} api-worker`) ? true : undefined), 10_000, 'api-worker started');
      // The commit the checkpoint records is on the remote already.
      const branch = gitIn(bare, 'for-each-ref', '--format=%(refname:short)', `refs/heads/${domain}/`);
      expect(branch, a.output().split('\n').filter((l) => /remote|push|branch/.test(l)).join('\n')).not.toBe('');
      expect(gitIn(bare, 'rev-parse', branch)).toBe(dbCommit);
      await a.kill('SIGKILL');

      const b = launch('b', ['--isolation', 'worktree'], { ORCH_SCRIPTED_LATENCY_MS: '0', ORCH_SCRIPTED_RUN_LOG: runLog });
      await b.ready;
      const { status, output } = await resultOf(redis, id);
      expect(status, JSON.stringify(output.issues)).toBe('completed');
      // A's db-worker commit (from the remote, B never saw A's disk) is in main; db-worker did not run again.
      expect(output.git!.commits['db-worker']).toBe(dbCommit);
      expect(() => gitIn(bare, 'merge-base', '--is-ancestor', dbCommit!, 'main')).not.toThrow();
      expect(mergesOf(bare, base, id)).toBeLessThanOrEqual(1);
      expect(readFileSync(runLog, 'utf8').split('\n').filter((l) => l.startsWith(`start ${id} db-worker`))).toHaveLength(1);
    } finally {
      await redis.quit();
    }
  }, 120_000);

  it('--merge none hands off with nothing merged; a conflict keeps the branch on the remote and says what to do', async () => {
    const { bare, url } = await bareRemote();
    const { launch, domain, keys } = setUp(url);
    const redis = client();
    try {
      const a = launch('a', ['--isolation', 'worktree', '--merge', 'none']);
      await a.ready;
      const before = gitIn(bare, 'rev-parse', 'main');
      const id = await send(redis, keys, domain, 'Create a REST API for blog posts');
      const { status, output } = await resultOf(redis, id);
      expect(status).toBe('completed');
      expect(output.outcome).toBe('completed');
      expect(output.git!.merged).toBeNull();
      expect(output.git!.pushed).toBe(true);
      expect(output.git!.compare_url).toBeUndefined(); // file:// is no forge
      expect(gitIn(bare, 'rev-parse', 'main')).toBe(before);
      expect(gitIn(bare, 'rev-parse', `refs/heads/${output.git!.branch}`)).toBe(output.git!.commits['api-worker'] ?? output.git!.commits['db-worker']);
      await a.kill('SIGTERM');

      // The same task again, merged this time; after its base was taken, a person writes the same file differently on main: a conflict.
      const file = output.files_created.find((f) => f.startsWith('src/routes/'))!;
      expect(file).toBeDefined();
      const b = launch('b', ['--isolation', 'worktree'], { ORCH_SCRIPTED_LATENCY_MS: '1500' });
      await b.ready;
      const id2 = await send(redis, keys, domain, 'Create a REST API for blog posts');
      await eventually(async () => ((await redis.hget(keys.checkpoint(id2), 'git:base')) ? true : undefined), 20_000, 'the second task started');
      const moved = pushFrom(personClone(url), file, 'a person wrote this first\n');
      const second = await resultOf(redis, id2);
      expect(second.status).toBe('completed');
      expect(second.output.outcome).toBe('completed_with_warnings');
      expect(second.output.git!.conflict).toContain(file);
      expect(second.output.git!.merged).toBeNull();
      expect(second.output.issues.join('\n')).toContain(`kept on branch ${second.output.git!.branch}`);
      expect(gitIn(bare, 'rev-parse', 'main')).toBe(moved);
      expect(gitIn(bare, 'rev-parse', `refs/heads/${second.output.git!.branch}`)).toBe(second.output.git!.commits['api-worker']);
    } finally {
      await redis.quit();
    }
  }, 120_000);

  it('a check that keeps failing holds the merge back in remote mode too: the branch is pushed, the remote branch stays, the issues say why', async () => {
    const { bare, url } = await bareRemote();
    const { launch, domain, keys } = setUp(url);
    const redis = client();
    try {
      const a = launch('a', ['--isolation', 'worktree', '--verify', 'exit 3', '--fix-rounds', '0']);
      await a.ready;
      const before = gitIn(bare, 'rev-parse', 'main');
      const id = await send(redis, keys, domain, 'Create a REST API for blog posts');
      const { status, output } = await resultOf(redis, id);
      expect(status).toBe('completed');
      expect(output.outcome).toBe('completed_with_warnings');
      expect(output.checks?.map((c) => [c.command, c.passed, c.exit_code])).toEqual([['exit 3', false, 3]]);
      expect(output.git!.merged).toBeNull();
      expect(output.git!.pushed).toBe(true);
      expect(gitIn(bare, 'rev-parse', 'main')).toBe(before);
      expect(gitIn(bare, 'rev-parse', `refs/heads/${output.git!.branch}`)).not.toBe('');
      expect(output.issues.join('\n')).toContain('not merged: checks failed (`exit 3`)');
      expect(output.issues.join('\n')).toContain('--merge-failing');
    } finally {
      await redis.quit();
    }
  }, 120_000);

  it('the remote down during a publish: the result says the work is in the mirror, and it is pushed once the remote is back', async () => {
    const { bare, url } = await bareRemote();
    const { launch, domain, keys } = setUp(url);
    const redis = client();
    try {
      const a = launch('a', ['--isolation', 'worktree'], { ORCH_SCRIPTED_LATENCY_MS: '1500' });
      await a.ready;
      const id = await send(redis, keys, domain, 'Create a REST API for blog posts');
      // The task is under way (its base fetched): the remote goes away.
      await eventually(async () => ((await redis.hget(keys.checkpoint(id), 'git:base')) ? true : undefined), 20_000, 'the task started');
      renameSync(bare, `${bare}.away`);
      const { status, output } = await resultOf(redis, id);
      expect(status).toBe('completed');
      expect(output.outcome).toBe('completed_with_warnings');
      expect(output.git!.pushed).toBe(false);
      expect(output.git!.merged).toBeNull();
      expect(output.git!.kept_in).toEqual({ mirror: expect.stringContaining('.mirror-'), instance: `${domain}-a` });
      expect(output.issues.join('\n')).toContain('the remote did not answer');
      expect(a.output()).toContain('the remote does not answer');
      // Back: the next task's fetch (or the 30 s retry) pushes the held-back branch.
      renameSync(`${bare}.away`, bare);
      const next = await send(redis, keys, domain, 'Create a REST API for products');
      await resultOf(redis, next);
      const tip = output.git!.commits['api-worker'] ?? output.git!.commits['db-worker'];
      await eventually(async () => {
        const r = gitIn(bare, 'for-each-ref', '--format=%(objectname)', `refs/heads/${output.git!.branch}`);
        return r === tip ? true : undefined;
      }, 30_000, 'the held-back branch pushed');
    } finally {
      await redis.quit();
    }
  }, 120_000);
});
