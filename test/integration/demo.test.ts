import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';

// `demo` is what a newcomer runs first, from wherever they are: their home
// folder, another repository. It must leave nothing there.

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function folders() {
  const cwd = mkdtempSync(join(tmpdir(), 'orch-demo-cwd-'));
  const tmp = mkdtempSync(join(tmpdir(), 'orch-demo-tmp-'));
  dirs.push(cwd, tmp);
  // TMPDIR: the demo's temporary folder lands where this test can look for it.
  const env = { PATH: process.env.PATH, HOME: cwd, TMPDIR: tmp, ORCH_SCRIPTED_LATENCY_MS: 'db-worker=1,api-worker=1,auth-worker=1' };
  return { cwd, tmp, env };
}

const workspaceLine = (stdout: string): string => {
  const match = /^workspace: (\S+)/m.exec(stdout);
  if (!match) throw new Error(`the demo did not say where its workspace is:\n${stdout}`);
  return match[1]!;
};

describe('demo', () => {
  it('works in a temporary folder, says where, and removes it at the end', async () => {
    const { cwd, tmp, env } = folders();
    const run = await runCli(['demo'], env, cwd);
    expect(run.status, run.stdout + run.stderr).toBe(0);
    expect(readdirSync(cwd)).toEqual([]);
    const workspace = workspaceLine(run.stdout);
    expect(resolve(workspace).startsWith(resolve(tmp))).toBe(true);
    expect(existsSync(workspace)).toBe(false);
    // tsx keeps its compile cache there too.
    expect(readdirSync(tmp).filter((name) => !name.startsWith('tsx-'))).toEqual([]);
  }, 120_000);

  it('keeps the folder with --keep, with the files the workers wrote', async () => {
    const { cwd, tmp, env } = folders();
    const run = await runCli(['demo', '--keep'], env, cwd);
    expect(run.status, run.stdout + run.stderr).toBe(0);
    expect(readdirSync(cwd)).toEqual([]);
    const workspace = workspaceLine(run.stdout);
    expect(resolve(workspace).startsWith(resolve(tmp))).toBe(true);
    // The sample project under git, with the three tasks merged into its history.
    const log = execFileSync('git', ['log', '--format=%s', 'main'], { cwd: join(workspace, 'project'), encoding: 'utf8' });
    expect(log.split('\n').filter((line) => /^(db|api|auth)-worker: /.test(line)).length).toBeGreaterThanOrEqual(3);
    expect(run.stdout).toContain(`kept ${workspace}`);
  }, 120_000);
});
