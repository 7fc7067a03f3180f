import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildTaskMessage, sendTask } from '../../src/client/send.ts';
import { tokenHeader } from '../../src/git/remote.ts';
import type { TaskOutput, WorkerResult } from '../../src/protocol/output.ts';
import { probeBox } from '../../src/workers/box/index.ts';
import { sandboxEnv } from '../../src/workers/tools/index.ts';
import { gitHttpServer } from '../support/gitHttp.ts';
import { FAST_RECOVERY, type OrchestratorProcess, spawnOrchestrator } from '../support/process.ts';
import { gitIn } from '../support/project.ts';
import { client, eventually, freshDomain, redisUrl } from '../support/redis.ts';
import { bareRemote } from '../support/remote.ts';

// Remote mode in box isolation, through whole listener processes: a takeover
// from the remote after a SIGKILL, and an HTTPS-style remote that wants a
// token (git http-backend on loopback), handed off with --merge none.

const procs: OrchestratorProcess[] = [];
afterEach(async () => {
  await Promise.all(procs.splice(0).map((p) => p.kill()));
});

const why = await probeBox();

async function resultOf(redis: ReturnType<typeof client>, id: string): Promise<{ status: string; output: TaskOutput; raw: Record<string, string> }> {
  const h = await eventually(async () => {
    const r = await redis.hgetall(`results:${id}`);
    return r.status === 'completed' || r.status === 'failed' ? r : undefined;
  }, 60_000, `the result of ${id}`);
  return { status: h.status!, output: JSON.parse(h.output!) as TaskOutput, raw: h };
}

describe.skipIf(why !== undefined)('a git remote as the project, in box isolation', () => {
  it("B resumes a task from the remote after A was SIGKILLed, with A's pushed commit, and merges it there", async () => {
    const { bare, url } = await bareRemote();
    const { domain, keys } = freshDomain();
    const dir = mkdtempSync(join(tmpdir(), 'orch-remote-box-'));
    const runLog = join(dir, 'runs.log');
    const launch = (name: string, latency: string) => {
      const p = spawnOrchestrator(
        ['--redis', redisUrl(), '--domain', domain, '--agent-id', `${domain}-${name}`, '--project', url, '--isolation', 'box', '--workspace', join(dir, `ws-${name}`), ...FAST_RECOVERY],
        { ORCH_SCRIPTED_LATENCY_MS: latency, ORCH_SCRIPTED_RUN_LOG: runLog },
      );
      procs.push(p);
      return p;
    };
    const redis = client();
    try {
      const a = launch('a', 'db-worker=50,api-worker=60000');
      await a.ready;
      const m = buildTaskMessage({ description: 'Create a REST API for blog posts' }, domain);
      await sendTask(redis, keys, m);
      const dbCommit = await eventually(async () => {
        const text = await redis.hget(keys.checkpoint(m.task_id), 'result:db-worker');
        return text ? (JSON.parse(text) as WorkerResult).commit : undefined;
      }, 30_000, "db-worker's commit");
      await eventually(async () => (readFileSync(runLog, 'utf8').includes(`start ${m.task_id} api-worker`) ? true : undefined), 10_000, 'api-worker started');
      expect(gitIn(bare, 'for-each-ref', '--format=%(objectname)', `refs/heads/${domain}/`)).toBe(dbCommit);
      await a.kill('SIGKILL');
      const b = launch('b', '0');
      await b.ready;
      const { status, output } = await resultOf(redis, m.task_id);
      expect(status, JSON.stringify(output.issues)).toBe('completed');
      expect(output.git!.commits['db-worker']).toBe(dbCommit);
      expect(() => gitIn(bare, 'merge-base', '--is-ancestor', output.git!.merged!, 'main')).not.toThrow();
      expect(() => gitIn(bare, 'merge-base', '--is-ancestor', dbCommit!, 'main')).not.toThrow();
      expect(readFileSync(runLog, 'utf8').split('\n').filter((l) => l.startsWith(`start ${m.task_id} db-worker`))).toHaveLength(1);
    } finally {
      await redis.quit();
    }
  }, 120_000);

  it('an HTTP remote that wants a token: pushed for review with --merge none, the compare URL in the result, the token in no log, result or box', async () => {
    const { bare } = await bareRemote();
    const token = 'gho_remoteTokenForTests_0123456789';
    const server = await gitHttpServer(join(bare, '..'), tokenHeader(token).slice('Authorization: '.length));
    const { domain, keys } = freshDomain();
    const dir = mkdtempSync(join(tmpdir(), 'orch-remote-http-'));
    const url = server.url('project.git');
    const redis = client();
    try {
      const before = gitIn(bare, 'rev-parse', 'main');
      // Without the token the remote refuses: start-up says so, naming the URL.
      const refused = spawnOrchestrator(['--redis', redisUrl(), '--domain', domain, '--project', url, '--workspace', join(dir, 'ws-0')]);
      procs.push(refused);
      expect(await refused.exited).toBe(2);
      expect(refused.output()).toContain(`--project ${url}`);

      const a = spawnOrchestrator(
        ['--redis', redisUrl(), '--domain', domain, '--project', url, '--project-token-env', 'REPO_PAT', '--merge', 'none', '--isolation', 'box', '--workspace', join(dir, 'ws-a'), '--log-level', 'debug', ...FAST_RECOVERY],
        { REPO_PAT: token },
      );
      procs.push(a);
      await a.ready;
      const m = buildTaskMessage({ description: 'Create a REST API for blog posts' }, domain);
      await sendTask(redis, keys, m);
      const { status, output, raw } = await resultOf(redis, m.task_id);
      expect(status, JSON.stringify(output.issues)).toBe('completed');
      expect(output.outcome).toBe('completed');
      expect(output.git!.merged).toBeNull();
      expect(output.git!.pushed).toBe(true);
      expect(output.git!.compare_url).toBe(`${url.replace(/\.git$/, '')}/compare/main...${output.git!.branch}`);
      expect(gitIn(bare, 'rev-parse', 'main')).toBe(before);
      expect(gitIn(bare, 'rev-parse', `refs/heads/${output.git!.branch}`)).toMatch(/^[0-9a-f]{40}$/);
      // The token went as the header, and nowhere a person or a worker reads.
      expect(server.seen).toContain(tokenHeader(token).slice('Authorization: '.length));
      const encoded = Buffer.from(`x-access-token:${token}`).toString('base64');
      const logs = (await redis.lrange(`results:${m.task_id}:logs`, 0, -1)).join('\n');
      for (const text of [a.output(), JSON.stringify(raw), logs]) {
        expect(text).not.toContain(token);
        expect(text).not.toContain(encoded);
      }
      expect(logs).toContain('pushed to');
      // The box's environment is built from an allow-list: the token's variable is not in it.
      expect(Object.keys(sandboxEnv({ PATH: '/usr/bin', REPO_PAT: token }))).not.toContain('REPO_PAT');
    } finally {
      await redis.quit();
      await server.close();
    }
  }, 120_000);
});
