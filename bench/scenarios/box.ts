import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, rmdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { serverBundle } from '../../src/workers/box/bundle.ts';
import { probeBox, startBox } from '../../src/workers/box/index.ts';
import { bwrapArgs, SETUP } from '../../src/workers/box/start.ts';
import type { BoxOptions, TaskBox } from '../../src/workers/box/types.ts';
import { FileChangeLog } from '../../src/workers/changes.ts';
import { bwrapSandbox, DEFAULT_LIMITS } from '../../src/workers/sandbox/sandbox.ts';
import { getTools, sandboxEnv, type ToolContext, type ToolName } from '../../src/workers/tools/index.ts';
import { Workspace } from '../../src/workers/workspace.ts';
import { fmt, percentile, type Bench, type Row } from '../support.ts';

/** A small project: the same files on disk (today's tools) and as the box's lower folder. */
async function project(dir: string): Promise<void> {
  await mkdir(path.join(dir, 'src', 'models'), { recursive: true });
  await writeFile(path.join(dir, 'package.json'), JSON.stringify({ name: 'bench', dependencies: { express: '4' } }));
  for (let i = 0; i < 30; i++) {
    await writeFile(path.join(dir, 'src', `file${i}.js`), `export const value${i} = ${i};\n// needle ${i % 7}\n`.repeat(20));
  }
  await writeFile(path.join(dir, 'src', 'models', 'user.js'), 'export class User {}\n');
}

const median = (samples: number[]) => percentile([...samples].sort((a, b) => a - b), 50);

async function timed(n: number, run: (i: number) => Promise<unknown>): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const started = performance.now();
    await run(i);
    samples.push(performance.now() - started);
  }
  return samples;
}

/** The tool calls compared: what each sends, by iteration. */
const CALLS: [label: string, tool: ToolName, input: (i: number) => Record<string, unknown>][] = [
  ['Read', 'Read', (i) => ({ file_path: `src/file${i % 30}.js` })],
  ['Write', 'Write', (i) => ({ file_path: `out/w${i % 50}.txt`, content: `write ${i}\n` })],
  ['Edit', 'Edit', (i) => ({ file_path: 'src/file1.js', old_string: `value1 = ${i % 2 === 0 ? 1 : 'x'};`, new_string: `value1 = ${i % 2 === 0 ? 'x' : 1};`, replace_all: true })],
  ['Grep', 'Grep', () => ({ pattern: 'needle 3' })],
  ['Bash `true`', 'Bash', () => ({ command: 'true' })],
];

/**
 * Issue 21: what a task box costs. Its start and close, the view alone
 * (unshare, the tmpfs and overlay mounts, bwrap running `true`) apart from
 * the tool server's start, and each tool call in the box against today's
 * in-process tools (Bash in a bwrap per command), medians.
 */
export async function boxCost(b: Bench): Promise<Row[]> {
  const why = await probeBox();
  if (why !== undefined) {
    b.log(`box: no task box here (${why})`);
    return [{ measure: 'task box', value: `not measured: ${why}` }];
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'bench-box-'));
  b.defer(() => rm(dir, { recursive: true, force: true }));
  const lower = path.join(dir, 'lower');
  await project(lower);
  const options: BoxOptions = {
    taskId: 'bench',
    lower: [lower],
    root: '/work/bench',
    limits: { ...DEFAULT_LIMITS, layerBytes: 256 * 1024 ** 2 },
    env: sandboxEnv(process.env),
    bashTimeoutMs: 10_000,
    maxOutputBytes: 30_000,
  };
  const starts = b.quick ? 5 : 20;
  const n = b.quick ? 30 : 200;

  // Start to ready, and close, of whole boxes; then to the first answered call (the server loads its tools after ready).
  const startMs: number[] = [];
  const closeMs: number[] = [];
  const firstCallMs: number[] = [];
  for (let i = 0; i < starts; i++) {
    let started = performance.now();
    const box = await startBox(options);
    startMs.push(performance.now() - started);
    await box.call('Read', { file_path: 'package.json' }, new AbortController().signal);
    firstCallMs.push(performance.now() - started);
    started = performance.now();
    await box.close();
    closeMs.push(performance.now() - started);
  }

  // The view alone: the same namespaces, mounts and bwrap, running `true` instead of the server.
  const bundle = await serverBundle();
  const viewMs = await timed(starts, async () => {
    const mount = await mkdtemp(path.join(tmpdir(), `orch-box-mnt-${process.pid}-`));
    const args = ['--user', '--map-root-user', '--mount', '--propagation', 'private', '--', '/bin/sh', '-c', SETUP, 'orch-box', mount, String(options.limits.layerBytes), lower, 'bwrap', ...bwrapArgs(options, mount, bundle, ['/bin/true'])];
    await new Promise<void>((resolve, reject) => {
      const child = spawn('unshare', args, { stdio: 'ignore' });
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`the view alone exited ${code}`))));
    });
    await rmdir(mount);
  });
  const nodeMs = await timed(starts, () => new Promise<void>((resolve) => spawn(process.execPath, ['-e', '0']).on('close', () => resolve())));

  // The same start over a 30,000-file lower folder: a view costs the same whatever the project's size.
  const large = path.join(dir, 'large');
  for (let d = 0; d < 300; d++) {
    await mkdir(path.join(large, `dir${d}`), { recursive: true });
    await Promise.all(Array.from({ length: 100 }, (_, f) => writeFile(path.join(large, `dir${d}`, `f${f}.js`), `export const v = ${f};\n`)));
  }
  const startLarge = await timed(starts, async () => (await startBox({ ...options, lower: [large] })).close());
  const startSmall = await timed(starts, async () => (await startBox(options)).close());

  // Per tool call: today's tools in this process (Bash through bwrap), against the same calls in a box.
  const today = path.join(dir, 'today');
  await project(today);
  const workspace = await Workspace.open(today);
  const ctx: ToolContext = {
    workspace,
    changes: new FileChangeLog(workspace.root),
    signal: new AbortController().signal,
    bash: { timeoutMs: 10_000, maxOutputBytes: 30_000, env: sandboxEnv(process.env), sandbox: bwrapSandbox() },
  };
  const box: TaskBox = await startBox(options);
  b.defer(() => box.close());
  const rows: Row[] = [];
  for (const [label, tool, input] of CALLS) {
    const [implementation] = getTools([tool]);
    for (let i = 0; i < 10; i++) {
      await implementation!.run(input(i), ctx);
      await box.call(tool, input(i), ctx.signal);
    }
    const here = await timed(n, (i) => implementation!.run(input(i + 10), ctx));
    const inBox = await timed(n, (i) => box.call(tool, input(i + 10), ctx.signal));
    const diff = median(inBox) - median(here);
    b.log(`box: ${label} ${fmt(median(inBox), 2)} ms in the box, ${fmt(median(here), 2)} ms today`);
    rows.push({
      measure: `${label} per call, median: in the task box vs today's (${n} calls each)`,
      value: `${fmt(median(inBox), 2)} ms vs ${fmt(median(here), 2)} ms (${diff >= 0 ? '+' : ''}${fmt(diff, 2)} ms)`,
    });
  }
  b.log(`box: start ${fmt(median(startMs), 1)} ms, view alone ${fmt(median(viewMs), 1)} ms, close ${fmt(median(closeMs), 1)} ms`);
  return [
    {
      measure: `task box start to ready, median (p90), ${starts} boxes`,
      value: `${fmt(median(startMs), 1)} ms (${fmt(percentile([...startMs].sort((x, y) => x - y), 90), 1)} ms)`,
    },
    { measure: 'of which the view alone: unshare, tmpfs and overlay mounts, bwrap running `true`, median', value: `${fmt(median(viewMs), 1)} ms` },
    {
      measure: 'the tool server: start to ready minus the view; `node -e 0` on this machine for scale',
      value: `${fmt(median(startMs) - median(viewMs), 1)} ms; node -e 0: ${fmt(median(nodeMs), 1)} ms`,
    },
    {
      measure: 'start and close of a box over a 30-file vs a 30,000-file lower folder, median',
      value: `${fmt(median(startSmall), 1)} ms vs ${fmt(median(startLarge), 1)} ms (${fmt(median(startLarge) / median(startSmall), 2)}×)`,
      target: '≤ 1.2×',
      ok: median(startLarge) / median(startSmall) <= 1.2,
    },
    { measure: 'start to the first answered call (the server loads its tools after ready), median', value: `${fmt(median(firstCallMs), 1)} ms` },
    { measure: 'task box close (kill, wait, cgroups and mount folder removed), median', value: `${fmt(median(closeMs), 1)} ms` },
    ...rows,
  ];
}
