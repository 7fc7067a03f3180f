import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';
import { startTestOrchestrator } from '../support/orchestrator.ts';
import { recordingModel } from '../support/project.ts';
import { cleanupsAfterEach, client, eventually, freshDomain, redisUrl } from '../support/redis.ts';

// `demo` never touches a queue a real listener uses: REDIS_URL (which the
// README has people export for the real thing) does not make it use that
// Redis, and on a Redis given with --redis it takes a domain of its own.
// Ctrl-C removes what it made. No API key: the demo chooses the stand-in.

const BIN = resolve(import.meta.dirname, '../../bin/backend-orchestrator.mjs');
const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, HOME: process.env.HOME, ...extra });
const cwd = mkdtempSync(join(tmpdir(), 'orch-demo-'));
const cleanups = cleanupsAfterEach();

const sentIds = (stdout: string): string[] => [...stdout.matchAll(/^sent ([0-9a-f]{8}): /gm)].map((m) => m[1]!);

describe('demo and the Redis of real listeners', { timeout: 180_000 }, () => {
  it('with REDIS_URL set and no --redis: its own private redis-server; nothing lands on REDIS_URL\'s', async () => {
    const redis = client();
    cleanups.push(() => redis.quit());
    const run = await runCli(['demo'], env({ REDIS_URL: redisUrl() }), cwd);
    expect(run.status, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^started a private redis-server at redis:\/\/127\.0\.0\.1:\d+$/m);
    expect(run.stdout).toContain('model: scripted offline stand-in');
    const ids = sentIds(run.stdout);
    expect(ids).toHaveLength(3);
    for (const id of ids) {
      const [, found] = await redis.scan('0', 'MATCH', `results:${id}*`, 'COUNT', 100_000);
      expect(found, id).toEqual([]);
    }
  });

  it('with --redis: a domain of its own, so a real listener of the domain given never gets a demo task', async () => {
    const { domain } = freshDomain();
    const real = recordingModel();
    const { orchestrator } = await startTestOrchestrator({ domain }, { model: real.model });
    cleanups.push(() => orchestrator.stop());
    const run = await runCli(['demo', '--redis', redisUrl(), '--domain', domain], env(), cwd);
    expect(run.status, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^on ${redisUrl()}, domain demo-[0-9a-f]{8}: the demo's own queue`, 'm'));
    expect(run.stdout).not.toContain('started a private redis-server');
    expect(sentIds(run.stdout)).toHaveLength(3);
    expect(real.calls).toEqual([]);
  });
});

describe('Ctrl-C during demo', { timeout: 120_000 }, () => {
  it('stops its listener and private redis-server, removes its temporary folder, exit 130', async () => {
    const child = spawn(process.execPath, [BIN, 'demo'], { env: env({ ORCH_SCRIPTED_LATENCY_MS: '5000' }), cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    cleanups.push(async () => void child.kill('SIGKILL'));
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
    await eventually(async () => (/^sent [0-9a-f]{8}: /m.test(stdout) ? true : undefined), 60_000, 'the first task sent');
    const scratch = /^workspace: (\S+)/m.exec(stdout)![1]!;
    const port = Number(/^started a private redis-server at redis:\/\/127\.0\.0\.1:(\d+)$/m.exec(stdout)![1]);
    expect(existsSync(scratch)).toBe(true);

    child.kill('SIGINT');
    const code = await exited;
    expect(child.signalCode, stdout + stderr).toBeNull();
    expect(code, stdout + stderr).toBe(130);
    expect(stdout).toContain('SIGINT: stopping the demo and removing its temporary folder');
    expect(existsSync(scratch), `${scratch} is left behind`).toBe(false);
    const refused = await new Promise<boolean>((done) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), done(false)));
      socket.once('error', () => done(true));
    });
    expect(refused, `the private redis-server still answers on ${port}`).toBe(true);
  });
});
