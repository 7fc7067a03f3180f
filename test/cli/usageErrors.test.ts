import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';
import { startTestOrchestrator } from '../support/orchestrator.ts';
import { client, freshDomain, redisUrl } from '../support/redis.ts';

// A usage error is one line on stderr, `backend-orchestrator: <problem> (see
// backend-orchestrator <command> --help)`, and exit 2: never the whole help
// (the error would scroll away), never commander's message and ours doubled.
const env = (): NodeJS.ProcessEnv => ({ PATH: process.env.PATH });
const cwd = mkdtempSync(join(tmpdir(), 'orch-usage-errors-'));
const redis = client();
afterAll(() => redis.quit());

/** The one line of a usage error; fails unless stderr is exactly one line. */
function oneLine(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l !== '');
  expect(lines, stderr).toHaveLength(1);
  expect(stderr.endsWith('\n')).toBe(true);
  return lines[0]!;
}

describe('usage errors: one line, exit 2', { timeout: 30_000 }, () => {
  it('an invalid value: start --concurrency abc names the flag once, with the fix', async () => {
    const { status, stderr } = await runCli(['start', '--concurrency', 'abc'], env(), cwd);
    expect(status).toBe(2);
    expect(oneLine(stderr)).toBe('backend-orchestrator: --concurrency: must be a whole number, got "abc" (see backend-orchestrator start --help)');
  });

  it('an unknown option of a command', async () => {
    const { status, stderr } = await runCli(['start', '--concurency', '2'], env(), cwd);
    expect(status).toBe(2);
    const line = oneLine(stderr);
    expect(line).toMatch(/^backend-orchestrator: unknown option '--concurency'/);
    expect(line).toMatch(/\(see backend-orchestrator start --help\)$/);
  });

  it('an unknown command points to the program\'s help', async () => {
    const { status, stderr } = await runCli(['strat'], env(), cwd);
    expect(status).toBe(2);
    const line = oneLine(stderr);
    expect(line).toMatch(/^backend-orchestrator: unknown command 'strat' \(Did you mean start\?\)/);
    expect(line).toMatch(/\(see backend-orchestrator --help\)$/);
  });

  it('a missing argument and an invalid value of a global flag', async () => {
    const missing = await runCli(['status'], env(), cwd);
    expect(missing.status).toBe(2);
    expect(oneLine(missing.stderr)).toBe("backend-orchestrator: missing required argument 'task-id' (see backend-orchestrator status --help)");
    const timeout = await runCli(['send', 'x', '--timeout', 'soon'], env(), cwd);
    expect(timeout.status).toBe(2);
    expect(oneLine(timeout.stderr)).toBe('backend-orchestrator: --timeout: must be a whole number, got "soon" (see backend-orchestrator send --help)');
  });
});

describe('send refuses an empty description before anything is queued', { timeout: 30_000 }, () => {
  for (const description of ['', '  \t ']) {
    it(`send ${JSON.stringify(description)}`, async () => {
      const { domain, keys } = freshDomain();
      const { status, stdout, stderr } = await runCli(['send', description, '--redis', redisUrl(), '--domain', domain], env(), cwd);
      expect(status).toBe(2);
      expect(stdout).toBe('');
      expect(oneLine(stderr)).toMatch(/^backend-orchestrator: the task description is empty: say what the task asks for, e\.g\. send ".+" \(see backend-orchestrator send --help\)$/);
      expect(await redis.llen(keys.pending)).toBe(0);
      expect(await redis.keys(`${keys.own}*`)).toEqual([]);
    });
  }
});

describe('cancel of a task whose result is published', { timeout: 60_000 }, () => {
  it('says it already completed, and exits 0', async () => {
    const { orchestrator, config } = await startTestOrchestrator({ resultGraceMs: 0 });
    try {
      const args = ['--redis', redisUrl(), '--domain', config.domain];
      const sent = await runCli(['send', 'Create a users table', '--wait', '--timeout', '30', ...args], env(), cwd);
      expect(sent.status, sent.stderr).toBe(0);
      const id = /task (\S+) sent to/.exec(sent.stderr)![1]!;
      const { status, stderr } = await runCli(['cancel', id, ...args], env(), cwd);
      expect(status).toBe(0);
      expect(stderr).toMatch(new RegExp(`^task ${id} already completed[ :(]`));
      expect(stderr).not.toContain('neither queued');
      expect(await redis.hget(`results:${id}`, 'status')).toBe('completed');
    } finally {
      await orchestrator.stop();
    }
  });

  it('cancelled twice: the second says it already failed (cancelled), exit 0', async () => {
    const { domain } = freshDomain();
    const args = ['--redis', redisUrl(), '--domain', domain];
    const sent = await runCli(['send', 'Create a users table', ...args], env(), cwd);
    expect(sent.status).toBe(0);
    const id = sent.stdout.trim();
    const first = await runCli(['cancel', id, ...args], env(), cwd);
    expect(first.status).toBe(0);
    expect(first.stderr).toContain('was still queued');
    const second = await runCli(['cancel', id, ...args], env(), cwd);
    expect(second.status).toBe(0);
    expect(second.stderr).toMatch(new RegExp(`^task ${id} already failed`));
  });

  it('a task never seen is still "nothing to cancel", exit 1', async () => {
    const { domain } = freshDomain();
    const { status, stderr } = await runCli(['cancel', 'no-such-task', '--redis', redisUrl(), '--domain', domain], env(), cwd);
    expect(status).toBe(1);
    expect(stderr).toContain('nothing to cancel');
  });
});

describe('--version', () => {
  it('prints the version of package.json and exits 0', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    const { status, stdout, stderr } = await runCli(['--version'], env(), cwd);
    expect(status).toBe(0);
    expect(stdout).toBe(`${version}\n`);
    expect(stderr).toBe('');
  }, 30_000);
});
