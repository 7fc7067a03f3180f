import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ConfigInput } from '../../src/config.ts';
import type { TaskOutput } from '../../src/protocol/output.ts';
import { cancelTask } from '../../src/client/cancel.ts';
import { taskDirName } from '../../src/workers/taskDirName.ts';
import { gitIn, sampleProject, startOnProject } from '../support/project.ts';
import { runCli } from '../support/cli.ts';
import { eventually, redisUrl } from '../support/redis.ts';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

// Worktree isolation by name: a git project's default is box isolation where the kernel allows it (test/project/box.test.ts).
const start = (over: ConfigInput, latencyMs = 0, fail: string[] = []) => startOnProject({ isolation: 'worktree', ...over }, cleanups, { latencyMs, fail });

const branchOf = (domain: string, id: string) => `${domain}/${taskDirName(id)}`;

describe('--project with worktree isolation', () => {
  it('a second task sees the first one\'s files in its survey and prompts, modifies them, and both merge with a commit per worker', async () => {
    const project = await sampleProject();
    const base = gitIn(project, 'rev-parse', 'main');
    const { send, result, calls, config, redis, keys } = await start({ project });

    const first = await send('Create a REST API for blog posts');
    const a = await result(first);
    expect(a.record.status).toBe('completed');
    // The merge's line is in the task's log, after the workers' and before the publication's.
    const logs = (await redis.lrange(keys.resultLogs(first), 0, -1)).map((l) => l.replace(/^\[[^\]]+\] /, ''));
    expect(logs.slice(-2)[0]).toMatch(/^git: .* merged \(/);
    expect(logs.at(-1)).toMatch(/^result published: completed/);
    expect(a.output.files_created).toContain('src/routes/posts.js');
    expect(a.output.files_created_abs).toContain(join(project, 'src/routes/posts.js'));
    expect(a.output.git?.base).toBe(base);
    expect(a.output.git?.merged).toBe(gitIn(project, 'rev-parse', 'main'));
    expect(Object.keys(a.output.git?.commits ?? {}).sort()).toEqual([...a.output.workers_used].sort());
    // The project folder's checkout follows its branch.
    expect(existsSync(join(project, 'src/routes/posts.js'))).toBe(true);

    const second = await send('Add pagination to the posts API');
    const b = await result(second);
    expect(b.record.status).toBe('completed');
    const prompts = calls.filter((c) => c.taskId === second && c.turn === 1).map((c) => c.prompt);
    expect(prompts.length).toBeGreaterThan(0);
    for (const prompt of prompts) {
      expect(prompt).toContain('src/routes/posts.js');
      expect(prompt).toContain('src/models/post.js');
      expect(prompt).toContain('src/models/user.js'); // the sample project's own model
    }
    expect(b.output.files_modified).toContain('src/routes/posts.js');
    expect(b.output.files_modified_abs).toContain(join(project, 'src/routes/posts.js'));
    expect(b.output.git?.base).toBe(a.output.git?.merged);
    expect(readFileSync(join(project, 'src/routes/posts.js'), 'utf8')).toContain('Add pagination to the posts API');

    // The history says which worker wrote what, for which task.
    const log = gitIn(project, 'log', '--format=%s|%an|%b', `${base}..main`);
    for (const worker of b.output.workers_used) expect(log).toMatch(new RegExp(`^${worker}: .*\\|backend-orchestrator\\|`, 'm'));
    expect(log).toContain(`Task-Id: ${first}`);
    expect(log).toContain(`Task-Id: ${second}`);
    // Worktrees are gone; merged branches stay until --keep-branches.
    expect(gitIn(project, 'worktree', 'list').split('\n')).toHaveLength(1);
    expect(gitIn(project, 'branch', '--list', `${config.domain}/*`).split('\n')).toHaveLength(2);
  });

  it('two tasks in flight at once that touch different files both merge', async () => {
    const project = await sampleProject();
    const { send, result } = await start({ project, concurrency: 2 }, 150);
    const [x, y] = await Promise.all([send('Create a REST API for blog posts'), send('Create a REST API for products')]);
    const [a, b] = await Promise.all([result(x), result(y)]);
    for (const r of [a, b]) {
      expect(r.record.status).toBe('completed');
      expect(r.output.outcome, r.output.issues.join('\n')).toBe('completed');
      expect(r.output.git?.merged).toMatch(/^[0-9a-f]{40}$/);
      expect(r.output.git?.conflict).toBeNull();
    }
    // Both were taken from the same head: one fast-forwarded, the other needed a merge commit.
    expect(a.output.git?.base).toBe(b.output.git?.base);
    expect(gitIn(project, 'rev-list', '--merges', '--count', 'main')).toBe('1');
    for (const f of ['src/routes/posts.js', 'src/routes/products.js', 'src/models/post.js', 'src/models/product.js']) {
      expect(existsSync(join(project, f)), f).toBe(true);
    }
    expect(gitIn(project, 'status', '--porcelain')).toBe('');
  });

  it('of two tasks in flight that write the same file, one merges and the other reports the conflict and keeps its branch', async () => {
    const project = await sampleProject();
    const { send, result, config } = await start({ project, concurrency: 2 }, 150);
    const [x, y] = await Promise.all([send('Create a REST API for blog posts'), send('Create a REST API for blog posts with search')]);
    const results = await Promise.all([result(x), result(y)]);
    const merged = results.filter((r) => r.output.git?.merged);
    const conflicted = results.filter((r) => r.output.git?.conflict);
    expect(merged).toHaveLength(1);
    expect(conflicted).toHaveLength(1);
    const c = conflicted[0]!;
    expect(c.record.status).toBe('completed');
    expect(c.output.outcome).toBe('completed_with_warnings');
    expect(c.output.git?.merged).toBeNull();
    expect(c.output.git?.conflict).toEqual(['src/routes/posts.js']);
    const branch = branchOf(config.domain, c.output.task_id);
    expect(c.output.git?.branch).toBe(branch);
    expect(c.output.issues.join('\n')).toMatch(new RegExp(`merge conflict .*src/routes/posts\\.js.*git merge ${branch.replace('/', '\\/')}`));
    // Nothing lost: the branch still holds the task's work.
    expect(gitIn(project, 'show', `${branch}:src/routes/posts.js`)).toContain(c.output.task_id === x ? 'blog posts\n' : 'with search');
    expect(gitIn(project, 'status', '--porcelain')).toBe('');
  });

  it('leaves the project branch alone when the project folder has uncommitted changes, and says why', async () => {
    const project = await sampleProject();
    writeFileSync(join(project, 'src/app.js'), '// work in progress\n');
    const before = gitIn(project, 'rev-parse', 'main');
    const { send, result, config } = await start({ project });
    const id = await send('Create a REST API for blog posts');
    const r = await result(id);
    expect(r.record.status).toBe('completed');
    expect(r.output.outcome).toBe('completed_with_warnings');
    expect(r.output.git?.merged).toBeNull();
    expect(r.output.issues.join('\n')).toMatch(/uncommitted changes \(src\/app\.js\)/);
    expect(gitIn(project, 'rev-parse', 'main')).toBe(before);
    expect(readFileSync(join(project, 'src/app.js'), 'utf8')).toBe('// work in progress\n');
    expect(gitIn(project, 'rev-parse', '--verify', branchOf(config.domain, id))).toMatch(/^[0-9a-f]{40}$/);
  });

  it.each([false, true])('merges a partial result only with --merge-partial (%s)', async (mergePartial) => {
    const project = await sampleProject();
    const before = gitIn(project, 'rev-parse', 'main');
    const { send, result, config } = await start({ project, mergePartial, workerAttempts: 1 }, 0, ['auth-worker']);
    const id = await send('Create user registration endpoint');
    const r = await result(id);
    expect(r.output.outcome).toBe('partial');
    expect(r.output.git?.commits['db-worker']).toMatch(/^[0-9a-f]{40}$/);
    expect(r.output.git?.commits['auth-worker']).toBeUndefined();
    const branch = branchOf(config.domain, id);
    if (mergePartial) {
      expect(r.output.git?.merged).toBe(gitIn(project, 'rev-parse', 'main'));
    } else {
      expect(r.output.git?.merged).toBeNull();
      expect(r.output.issues.join('\n')).toMatch(/--merge-partial/);
      expect(gitIn(project, 'rev-parse', 'main')).toBe(before);
      expect(gitIn(project, 'rev-parse', '--verify', branch)).toMatch(/^[0-9a-f]{40}$/);
    }
  });

  it('a task cancelled after a worker committed is not merged, keeps its branch, and is not told to merge it', async () => {
    const project = await sampleProject();
    const before = gitIn(project, 'rev-parse', 'main');
    const { send, result, config, redis, keys } = await start({ project }, 400);
    const id = await send('Create user registration endpoint');
    const branch = branchOf(config.domain, id);
    // A first worker's commit is on the task branch: there is work to keep.
    await eventually(async () => {
      try {
        return gitIn(project, 'rev-list', '--count', `${before}..${branch}`) !== '0' ? true : undefined;
      } catch {
        return undefined;
      }
    }, 30_000, 'a worker commit on the task branch');
    expect(await cancelTask(redis, keys, 'test', id, 'wrong ticket')).toBe('running');
    const r = await result(id);
    expect(r.output.outcome).toBe('failed');
    expect(r.output.git?.merged).toBeNull();
    const said = [...r.output.issues, ...(await redis.lrange(keys.resultLogs(id), 0, -1))].join('\n');
    expect(said).toMatch(new RegExp(`cancelled \\(wrong ticket\\): not merged; .*branch ${branch.replace('/', '\\/')}`));
    expect(said).not.toMatch(/git merge/);
    expect(gitIn(project, 'rev-parse', 'main')).toBe(before);
    expect(gitIn(project, 'rev-parse', '--verify', branch)).toMatch(/^[0-9a-f]{40}$/);
  });

  it('deletes a merged branch once --keep-branches has passed (at the next start-up sweep), and keeps unmerged ones', async () => {
    const project = await sampleProject();
    const first = await start({ project, concurrency: 2 }, 150);
    const [x, y] = await Promise.all([first.send('Create a REST API for blog posts'), first.send('Create a REST API for blog posts with search')]);
    const results = await Promise.all([first.result(x), first.result(y)]);
    const merged = results.find((r) => r.output.git?.merged)!.output.git!.branch;
    const kept = results.find((r) => r.output.git?.conflict)!.output.git!.branch;
    await first.orchestrator.stop();
    const key = `${first.keys.own}merged-branches`;
    const entries = await first.redis.zrange(key, '0', '-1');
    expect(entries.map((e) => (JSON.parse(e) as { branch: string }).branch)).toEqual([merged]);
    // Eight days later, as far as the sweep can tell.
    await first.redis.zadd(key, String(Date.now() - 8 * 86_400_000), entries[0]!);
    await start({ project, domain: first.config.domain });
    await eventually(async () => (gitIn(project, 'branch', '--list', merged) === '' ? true : undefined), 10_000, 'the merged branch to go');
    expect(gitIn(project, 'branch', '--list', kept)).not.toBe('');
    await eventually(async () => ((await first.redis.zcard(key)) === 0 ? true : undefined), 10_000, 'the sweep to forget the branch');
  });

  it('with --keep-branches 0 deletes a merged branch at once, and the author is configurable', async () => {
    const project = await sampleProject();
    const { send, result, config } = await start({ project, keepBranchesDays: 0, gitAuthorName: 'Backend Bot', gitAuthorEmail: 'bot@example.com' });
    const id = await send('Create a REST API for blog posts');
    const r = await result(id);
    expect(r.output.git?.merged).toBe(gitIn(project, 'rev-parse', 'main'));
    expect(gitIn(project, 'branch', '--list', branchOf(config.domain, id))).toBe('');
    // `status` shows the git object with the rest of the output.
    const status = await runCli(['status', id, '--redis', redisUrl(), '--domain', config.domain]);
    expect(status.status).toBe(0);
    expect((JSON.parse(status.stdout) as { output: TaskOutput }).output.git).toEqual(r.output.git);
    expect(gitIn(project, 'log', '-1', '--format=%an <%ae>|%cn <%ce>', 'main')).toBe('Backend Bot <bot@example.com>|Backend Bot <bot@example.com>');
  });

  it('a task that fails before any worker leaves no branch, no worktree and the project untouched', async () => {
    const project = await sampleProject();
    const before = gitIn(project, 'rev-parse', 'main');
    const { send, result, config } = await start({ project });
    const id = await send('Make me a sandwich');
    const r = await result(id);
    expect(r.output.outcome).toBe('failed');
    expect(r.output.git).toBeUndefined();
    expect(r.output.issues.join('\n')).not.toMatch(/branch/);
    expect(gitIn(project, 'rev-parse', 'main')).toBe(before);
    await eventually(async () => (gitIn(project, 'branch', '--list', branchOf(config.domain, id)) === '' ? true : undefined), 10_000, 'no task branch');
    expect(gitIn(project, 'worktree', 'list').split('\n')).toHaveLength(1);
  });
});
