import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FileChangeLog } from '../../src/workers/changes.ts';
import { bwrapSandbox, DEFAULT_LIMITS, unsandboxed, type Sandbox } from '../../src/workers/sandbox/sandbox.ts';
import { bashTool } from '../../src/workers/tools/bash.ts';
import { sandboxEnv } from '../../src/workers/tools/index.ts';
import { Workspace } from '../../src/workers/workspace.ts';
import { fmt, percentile, type Bench, type Row } from '../support.ts';

/**
 * What the sandbox costs per Bash command: `true` through the real Bash
 * tool (workspace snapshots, spawn, wait), with bubblewrap and without.
 */
export async function sandboxCost(b: Bench): Promise<Row[]> {
  const dir = await mkdtemp(path.join(tmpdir(), 'bench-sandbox-'));
  b.defer(() => rm(dir, { recursive: true, force: true }));
  const workspace = await Workspace.open(path.join(dir, 'ws'));
  const n = b.quick ? 50 : 300;
  const measure = async (sandbox: Sandbox): Promise<number[]> => {
    const ctx = {
      workspace,
      changes: new FileChangeLog(workspace.root),
      signal: new AbortController().signal,
      bash: { timeoutMs: 10_000, maxOutputBytes: 30_000, env: sandboxEnv(process.env), sandbox },
    };
    for (let i = 0; i < 10; i++) await bashTool.run({ command: 'true' }, ctx); // warm-up
    const samples: number[] = [];
    for (let i = 0; i < n; i++) {
      const started = performance.now();
      await bashTool.run({ command: 'true' }, ctx);
      samples.push(performance.now() - started);
    }
    return samples.sort((x, y) => x - y);
  };
  /** Spawn to close of the wrapped command alone, without the tool's workspace snapshots. */
  const spawnOnly = async (sandbox: Sandbox): Promise<number[]> => {
    const run = sandbox.wrap({ command: 'true', binds: { writable: [workspace.root], readOnly: [] }, env: sandboxEnv(process.env), limits: DEFAULT_LIMITS });
    const once = () =>
      new Promise<number>((resolve, reject) => {
        const started = performance.now();
        const child = spawn(run.file, run.args, { cwd: run.cwd, env: run.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
        child.on('error', reject);
        child.on('close', () => resolve(performance.now() - started));
      });
    const samples: number[] = [];
    for (let i = 0; i < n; i++) samples.push(await once());
    return samples.sort((x, y) => x - y);
  };
  const bare = await measure(unsandboxed());
  const boxed = await measure(bwrapSandbox());
  const spawnBare = await spawnOnly(unsandboxed());
  const spawnBoxed = await spawnOnly(bwrapSandbox());
  const p50 = (s: number[]) => percentile(s, 50);
  b.log(`sandbox: p50 ${fmt(p50(boxed), 2)} ms in bwrap, ${fmt(p50(bare), 2)} ms without, over ${n} commands each`);
  return [
    {
      measure: `Bash command \`true\` through the tool, p50 (p90), bubblewrap sandbox (${n} commands)`,
      value: `${fmt(p50(boxed), 2)} ms (${fmt(percentile(boxed, 90), 2)} ms)`,
    },
    {
      measure: 'the same without a sandbox (--unsafe-no-sandbox); the difference is the sandbox',
      value: `${fmt(p50(bare), 2)} ms (${fmt(percentile(bare, 90), 2)} ms); sandbox adds ${fmt(p50(boxed) - p50(bare), 2)} ms`,
    },
    {
      measure: 'spawn to exit of the wrapped `true` alone, p50: bwrap vs plain bash',
      value: `${fmt(p50(spawnBoxed), 2)} ms vs ${fmt(p50(spawnBare), 2)} ms (+${fmt(p50(spawnBoxed) - p50(spawnBare), 2)} ms)`,
    },
  ];
}
