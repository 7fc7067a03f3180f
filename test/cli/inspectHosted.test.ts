import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../src/redis/localServer.ts';
import { spawnOrchestrator } from '../support/process.ts';
import { cleanupsAfterEach, freshDomain, redisUrl } from '../support/redis.ts';

// `start --inspect` opens a local relay, but the page it frames is
// stately.ai's: offline it is blank. Said where the URL is printed, and in
// the README, with the console as the offline way.

const cleanups = cleanupsAfterEach();

describe('start --inspect says the inspector UI is hosted', { timeout: 60_000 }, () => {
  it('next to the URL it prints, pointing offline users to the console', async () => {
    const port = await freePort();
    const proc = spawnOrchestrator(
      ['--redis', redisUrl(), '--domain', freshDomain().domain, '--workspace', mkdtempSync(join(tmpdir(), 'orch-ws-')), '--inspect', '--inspect-port', String(port)],
      { PATH: process.env.PATH, HOME: process.env.HOME },
    );
    cleanups.push(() => proc.kill());
    await proc.ready;
    const line = proc.output().split('\n').find((l) => l.startsWith('Stately Inspector: open '));
    expect(line, proc.output()).toBeDefined();
    expect(line).toContain(`http://127.0.0.1:${port}`);
    expect(line).toContain('loads the inspector UI from stately.ai and needs the internet; offline, use backend-orchestrator console');
    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
  });

  it('in the README, beside the flag', () => {
    const readme = readFileSync(resolve(import.meta.dirname, '../../README.md'), 'utf8');
    const row = readme.split('\n').find((l) => l.startsWith('| `--inspect [target]`'));
    expect(row).toMatch(/The inspector's UI is hosted: the relay runs here, but the page it opens loads stately\.ai, so it needs the internet; offline, use `console`/);
  });
});
