import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildTaskMessage, sendTask } from '../../src/client/send.ts';
import type { TaskOutput } from '../../src/protocol/output.ts';
import { spawnOrchestrator, type OrchestratorProcess } from '../support/process.ts';
import { gitIn, sampleProject } from '../support/project.ts';
import { client, eventually, freshDomain, redisUrl } from '../support/redis.ts';

// Real listener processes meeting real I/O errors: a file-size limit on the
// process (what a full disk does to a write: it fails part-way) and a project
// the listener's user cannot write.

const procs: OrchestratorProcess[] = [];
afterEach(async () => {
  await Promise.all(procs.splice(0).map((p) => p.kill()));
});

const NOBODY = 65534;
const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;

function chownAll(dir: string, uid: number): void {
  execFileSync('chown', ['-R', `${uid}:${uid}`, dir]);
}

describe('I/O errors in a git project', () => {
  it('a project the listener cannot write stops start-up with a message naming the fix, and nothing is registered', async () => {
    const project = await sampleProject();
    const workspace = mkdtempSync(join(tmpdir(), 'orch-ro-wt-'));
    // Read-only for the listener's user: as root (who can write anything), the listener runs as nobody on a project nobody owns.
    if (asRoot) {
      chownAll(project, NOBODY);
      chownAll(workspace, NOBODY);
    }
    execFileSync('chmod', ['-R', 'a-w', project]);
    const { domain } = freshDomain();
    const p = spawnOrchestrator(['--redis', redisUrl(), '--domain', domain, '--agent-id', `${domain}-ro`, '--project', project, '--workspace', join(workspace, 'wt')], {}, asRoot ? { uid: NOBODY, gid: NOBODY } : {});
    procs.push(p);
    expect(await p.exited).toBe(2);
    const out = p.output();
    expect(out).toMatch(/--project \S+ is read-only for this user \(uid \d+\) \(EACCES\), and tasks commit, branch and merge there: make the project writable by the user the listener runs as/);
    expect(out).toContain('--isolation task-folder');
    expect(out).not.toMatch(/git worktree add|fatal:/);
    execFileSync('chmod', ['-R', 'u+w', project]);
    if (asRoot) chownAll(project, 0);
    expect(gitIn(project, 'worktree', 'list', '--porcelain').split('\n').filter((l) => l.startsWith('worktree '))).toHaveLength(1);
  });

  it.runIf(asRoot)("a project another user owns: start-up says git's ownership check is what refuses it, and how to trust it", async () => {
    const project = await sampleProject();
    execFileSync('chmod', ['755', project]); // readable by all (mkdtemp made it 0700), still root's
    const workspace = mkdtempSync(join(tmpdir(), 'orch-owner-wt-'));
    chownAll(workspace, NOBODY);
    const { domain } = freshDomain();
    const p = spawnOrchestrator(['--redis', redisUrl(), '--domain', domain, '--agent-id', `${domain}-own`, '--project', project, '--workspace', join(workspace, 'wt')], {}, { uid: NOBODY, gid: NOBODY });
    procs.push(p);
    expect(await p.exited).toBe(2);
    expect(p.output()).toMatch(/--project \S+ belongs to another user and git refuses to work in it \("dubious ownership"\): run the listener as the project's owner, or trust it with `git config --global --add safe.directory \S+`/);
  });

  // RLIMIT_FSIZE, lowered on the running listener once its worktree is ready: write(2) of anything past 64 bytes fails
  // with EFBIG, as it fails with ENOSPC on a full disk (git and pipes are not affected at that size).
  it.runIf(process.platform === 'linux')('a full disk mid-task: the writes that failed are not files written, and a worker whose every write failed did not succeed', async () => {
    const project = await sampleProject();
    const base = gitIn(project, 'rev-parse', 'main');
    const dir = mkdtempSync(join(tmpdir(), 'orch-full-'));
    const { domain, keys } = freshDomain();
    const p = spawnOrchestrator(
      ['--redis', redisUrl(), '--domain', domain, '--agent-id', `${domain}-full`, '--project', project, '--isolation', 'worktree', '--workspace', join(dir, 'wt')],
      { ORCH_SCRIPTED_LATENCY_MS: 'db-worker=1500' },
    );
    procs.push(p);
    await p.ready;
    const redis = client();
    try {
      const m = buildTaskMessage({ description: 'Create a REST API for blog posts' }, domain);
      await sendTask(redis, keys, m);
      await eventually(async () => (p.output().includes('task worktree ready') ? true : undefined), 20_000, 'the worktree');
      execFileSync('prlimit', ['--pid', String(p.child.pid), '--fsize=64:']);
      const record = await eventually(async () => {
        const h = await redis.hgetall(`results:${m.task_id}`);
        return h.status === 'completed' || h.status === 'failed' ? h : undefined;
      }, 30_000, 'the result');
      const output = JSON.parse(record.output!) as TaskOutput;
      expect(output.outcome).toBe('failed');
      expect(output.details['db-worker']?.status).toBe('failed');
      expect(output.details['db-worker']?.error).toMatch(/every file write of db-worker failed, nothing was written: src\/models\/post\.js \(Write failed: could not write src\/models\/post\.js \(.*file too large.*\): nothing was written\)/i);
      expect(output.files_created).toEqual([]);
      expect(output.summary).not.toContain('src/models/post.js');
      // No commit, no branch, no worktree; the project is as before.
      expect(output.git).toBeUndefined();
      expect(gitIn(project, 'rev-parse', 'main')).toBe(base);
      expect(gitIn(project, 'branch', '--list', `${domain}/*`)).toBe('');
      expect(gitIn(project, 'worktree', 'list', '--porcelain').split('\n').filter((l) => l.startsWith('worktree '))).toHaveLength(1);
      expect(existsSync(join(dir, 'wt')) ? readdirSync(join(dir, 'wt')) : []).toEqual([]);
    } finally {
      await redis.quit();
    }
  }, 60_000);
});
