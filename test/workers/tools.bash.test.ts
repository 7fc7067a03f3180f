import { readdirSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ToolExecutionError, WorkerAbortedError } from '../../src/workers/errors.ts';
import { bashTool } from '../../src/workers/tools/bash.ts';
import { sandboxEnv } from '../../src/workers/tools/sandboxEnv.ts';
import { BASH, sandbox, toolContext } from './fixtures.ts';

describe('Bash tool', () => {
  it('runs in the workspace root and returns stdout and stderr', async () => {
    const { workspace } = await sandbox();
    const out = await bashTool.run({ command: 'pwd; echo oops >&2' }, toolContext(workspace));
    expect(out).toBe(`${workspace.root}\noops\n`);
  });

  it('reports a non-zero exit as an error carrying the output', async () => {
    const { workspace } = await sandbox();
    const run = bashTool.run({ command: 'echo failing; exit 3' }, toolContext(workspace));
    await expect(run).rejects.toBeInstanceOf(ToolExecutionError);
    await expect(run).rejects.toThrow(/failing\n\nExit code 3/);
  });

  it('kills the whole process group at the time limit', async () => {
    const { workspace } = await sandbox();
    const ctx = toolContext(workspace, { bash: { ...BASH, timeoutMs: 300 } });
    const started = Date.now();
    // The background sleep would keep the pipes open for 30 s if only bash were killed.
    const run = bashTool.run({ command: 'sleep 30 & sleep 30; echo never' }, ctx);
    await expect(run).rejects.toThrow(/killed after 300 ms/);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('kills setsid children too, at the time limit and on abort: the pid namespace dies with bwrap', async () => {
    const { workspace } = await sandbox();
    const marker = `orch-timeout-${Math.random().toString(36).slice(2, 10)}`;
    const alive = () =>
      readdirSync('/proc').filter((p) => {
        try {
          return /^\d+$/.test(p) && readFileSync(`/proc/${p}/cmdline`, 'utf8').startsWith(marker);
        } catch {
          return false;
        }
      });
    const command = `setsid bash -c 'exec -a ${marker} sleep 1000' & sleep 30`;
    const timed = bashTool.run({ command }, toolContext(workspace, { bash: { ...BASH, timeoutMs: 500 } }));
    await expect(timed).rejects.toThrow(/killed after 500 ms/);
    await expect.poll(alive, { timeout: 5000 }).toEqual([]);
    const controller = new AbortController();
    const aborted = bashTool.run({ command }, toolContext(workspace, { signal: controller.signal }));
    await expect.poll(() => alive().length, { timeout: 5000 }).toBe(1);
    controller.abort();
    await expect(aborted).rejects.toBeInstanceOf(WorkerAbortedError);
    await expect.poll(alive, { timeout: 5000 }).toEqual([]);
  });

  it('takes a shorter timeout from the model but never a longer one', async () => {
    const { workspace } = await sandbox();
    const ctx = toolContext(workspace, { bash: { ...BASH, timeoutMs: 400 } });
    await expect(bashTool.run({ command: 'sleep 5', timeout: 60_000 }, ctx)).rejects.toThrow(/killed after 400 ms/);
    await expect(bashTool.run({ command: 'sleep 5', timeout: 100 }, ctx)).rejects.toThrow(/killed after 100 ms/);
  });

  it('cuts output at the cap and says how much was dropped', async () => {
    const { workspace } = await sandbox();
    const ctx = toolContext(workspace, { bash: { ...BASH, maxOutputBytes: 1000 } });
    const out = await bashTool.run({ command: "head -c 5000 /dev/zero | tr '\\0' a" }, ctx);
    expect(out.startsWith('a'.repeat(1000) + '\n')).toBe(true);
    expect(out).toMatch(/4000 more bytes of output cut at 1000/);
  });

  it('runs with the sandbox environment: no orchestrator secrets', async () => {
    const { workspace } = await sandbox();
    const env = sandboxEnv({ PATH: process.env['PATH'], LANG: 'C.UTF-8', HOME: '/home/w', ANTHROPIC_API_KEY: 'sk-live', REDIS_URL: 'redis://x' });
    const out = await bashTool.run({ command: 'env' }, toolContext(workspace, { bash: { ...BASH, env } }));
    expect(out).toContain('LANG=C.UTF-8');
    // A private HOME inside the sandbox: the listener's own is not even mounted.
    expect(out).toContain('HOME=/tmp/home');
    expect(out).not.toMatch(/ANTHROPIC|REDIS|sk-live/);
  });

  it('records the files a command created, modified and deleted', async () => {
    const { workspace } = await sandbox();
    await writeFile(path.join(workspace.root, 'old.txt'), 'old');
    await writeFile(path.join(workspace.root, 'gone.txt'), 'gone');
    const ctx = toolContext(workspace);
    await bashTool.run({ command: 'mkdir -p src && echo hi > src/new.txt && echo more >> old.txt && rm gone.txt' }, ctx);
    expect(ctx.changes.snapshot()).toEqual({ created: ['src/new.txt'], modified: ['old.txt'], deleted: ['gone.txt'] });
    expect(await readFile(path.join(workspace.root, 'src/new.txt'), 'utf8')).toBe('hi\n');
  });

  it('stops the command when the run is aborted', async () => {
    const { workspace } = await sandbox();
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const started = Date.now();
    const run = bashTool.run({ command: 'sleep 30' }, toolContext(workspace, { signal: controller.signal }));
    await expect(run).rejects.toBeInstanceOf(WorkerAbortedError);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
