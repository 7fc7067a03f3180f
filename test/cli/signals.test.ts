import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { spawnOrchestrator } from '../support/process.ts';
import { cleanupsAfterEach, freshDomain, redisUrl } from '../support/redis.ts';

// Until `start` has a handler for SIGTERM, the signal kills it outright: no
// stop, no deregistration, exit by signal. A supervisor (or a person) may
// send one the moment it sees a line. The handlers are installed before
// anything is logged, so every SIGTERM gets the clean stop.

const env = (): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, HOME: process.env.HOME });
const cleanups = cleanupsAfterEach();

const start = () => {
  const { domain } = freshDomain();
  const proc = spawnOrchestrator(['--redis', redisUrl(), '--domain', domain, '--workspace', mkdtempSync(join(tmpdir(), 'orch-ws-')), '--shutdown-grace-ms', '2000'], env());
  cleanups.push(() => proc.kill());
  return proc;
};

describe('SIGTERM as soon as start says something', { timeout: 60_000 }, () => {
  it('right after "listening": a clean stop, exit 0', async () => {
    const proc = start();
    await proc.ready;
    proc.child.kill('SIGTERM');
    const code = await proc.exited;
    expect(proc.child.signalCode, proc.output()).toBeNull();
    expect(code, proc.output()).toBe(0);
    expect(proc.output()).toContain('"msg":"stopping: no new claims, letting tasks in flight finish"');
  });

  it('at its first log line, during start-up: it finishes starting, then stops cleanly, exit 0', async () => {
    const proc = start();
    await new Promise<void>((resolve) => proc.child.stderr!.once('data', () => resolve()));
    proc.child.kill('SIGTERM');
    const code = await proc.exited;
    expect(proc.child.signalCode, proc.output()).toBeNull();
    expect(code, proc.output()).toBe(0);
    expect(proc.output()).toContain('"msg":"listening"');
    expect(proc.output()).toContain('"msg":"stopping: no new claims, letting tasks in flight finish"');
  });
});
