import { spawn } from 'node:child_process';
import { mkdtempSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { spawnOrchestrator } from '../support/process.ts';
import { sampleProject } from '../support/project.ts';
import { cleanupsAfterEach, freshDomain, redisUrl } from '../support/redis.ts';

// `--project` on a subfolder of a git repository: taken for a plain folder,
// its tasks wrote into the checkout one at a time with no commits. Refused
// whatever the isolation, unless --isolation none asks for exactly that.

const BIN = resolve(import.meta.dirname, '../../bin/backend-orchestrator.mjs');
const env = (): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, HOME: process.env.HOME });
const cleanups = cleanupsAfterEach();

/** `start` with these flags; killed after `ms` if still running (it would be listening). */
function startFor(args: string[], ms: number): Promise<{ status: number | null; output: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [BIN, 'start', '--model', 'scripted', ...args], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
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

describe('--project on a subfolder of a git repository', { timeout: 120_000 }, () => {
  it('is refused with no --isolation, and with worktree or task-folder, naming the top to pass', async () => {
    const project = realpathSync(await sampleProject());
    const sub = join(project, 'src');
    const common = ['--redis', redisUrl(), '--workspace', mkdtempSync(join(tmpdir(), 'orch-ws-')), '--project', sub];
    const runs = await Promise.all(
      [[], ['--isolation', 'worktree'], ['--isolation', 'task-folder']].map((isolation) =>
        startFor([...common, '--domain', freshDomain().domain, ...isolation], 30_000),
      ),
    );
    for (const run of runs) {
      expect(run.status, run.output).toBe(2);
      expect(run.output).toContain(`backend-orchestrator: --project ${sub} is inside the git repository ${project}, not its top: pass --project ${project} (or --isolation none`);
      expect(run.output).not.toContain('"msg":"listening"');
    }
  });

  it('is taken with an explicit --isolation none', async () => {
    const project = realpathSync(await sampleProject());
    const proc = spawnOrchestrator(
      ['--redis', redisUrl(), '--domain', freshDomain().domain, '--workspace', mkdtempSync(join(tmpdir(), 'orch-ws-')), '--project', join(project, 'src'), '--isolation', 'none'],
      env(),
    );
    cleanups.push(() => proc.kill());
    await proc.ready;
    expect(proc.output()).toContain('"isolation":"none"');
    proc.child.kill('SIGTERM');
    expect(await proc.exited, proc.output()).toBe(0);
  });
});
