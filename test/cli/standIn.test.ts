import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TaskOutput } from '../../src/protocol/output.ts';
import { runCli } from '../support/cli.ts';
import { spawnOrchestrator } from '../support/process.ts';
import { sampleProject } from '../support/project.ts';
import { cleanupsAfterEach, client, freshDomain, redisUrl } from '../support/redis.ts';

// No key must not mean the offline stand-in in silence: its placeholder code
// would be merged into a real project, or published to real waiters as work.
// `start` refuses unless --model scripted is explicit; with it, it warns at
// start and every result says it is the stand-in's.

const BIN = resolve(import.meta.dirname, '../../bin/backend-orchestrator.mjs');
const env = (): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, HOME: process.env.HOME });
const cwd = mkdtempSync(join(tmpdir(), 'orch-stand-in-'));
const cleanups = cleanupsAfterEach();

/** `start` with these flags, killed after `ms` if it is still running (before the fix it would listen). */
function startFor(args: string[], ms: number): Promise<{ status: number | null; output: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [BIN, 'start', ...args], { env: env(), cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('close', (status) => {
      clearTimeout(timer);
      done({ status, output });
    });
  });
}

describe('start without ANTHROPIC_API_KEY', { timeout: 60_000 }, () => {
  it('refuses --project unless --model scripted is explicit, saying how to give a key or choose the stand-in', async () => {
    const project = await sampleProject();
    const { domain, keys } = freshDomain();
    const run = await startFor(['--redis', redisUrl(), '--domain', domain, '--project', project, '--workspace', mkdtempSync(join(tmpdir(), 'orch-ws-'))], 20_000);
    expect(run.status, run.output).toBe(2);
    expect(run.output).toContain('no ANTHROPIC_API_KEY');
    expect(run.output).toContain('export ANTHROPIC_API_KEY=');
    expect(run.output).toContain('--model scripted');
    expect(run.output).not.toContain('"msg":"listening"');
    const redis = client();
    cleanups.push(() => redis.quit());
    expect(await redis.exists(keys.agentsOfDomain)).toBe(0);
  });

  it('refuses any queue (no --project) the same way', async () => {
    const { domain } = freshDomain();
    const run = await startFor(['--redis', redisUrl(), '--domain', domain, '--workspace', mkdtempSync(join(tmpdir(), 'orch-ws-'))], 20_000);
    expect(run.status, run.output).toBe(2);
    expect(run.output).toMatch(/^backend-orchestrator: no ANTHROPIC_API_KEY: .*--model scripted/);
  });
});

describe('start --model scripted', { timeout: 60_000 }, () => {
  it('warns at start, and the result it publishes says it is the offline stand-in\'s', async () => {
    const { domain } = freshDomain();
    const proc = spawnOrchestrator(['--redis', redisUrl(), '--domain', domain, '--workspace', mkdtempSync(join(tmpdir(), 'orch-ws-'))], env());
    cleanups.push(() => proc.kill());
    await proc.ready;
    const warning = proc.output().split('\n').find((l) => l.includes('"level":40') && l.includes('offline stand-in'));
    expect(warning, proc.output()).toBeDefined();
    expect(proc.output().indexOf(warning!)).toBeLessThan(proc.output().indexOf('"msg":"listening"'));

    const sent = await runCli(['send', 'Create a users table', '--wait', '--timeout', '30', '--redis', redisUrl(), '--domain', domain], env(), cwd);
    expect(sent.status, sent.stderr).toBe(0);
    const output = JSON.parse(sent.stdout) as TaskOutput;
    expect(output.status).toBe('completed');
    expect(output.stand_in).toMatch(/offline stand-in \(--model scripted\), not by Claude/);
  });
});
