import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { openGitProject } from '../../src/git/project.ts';
import { DEFAULT_SNAPSHOT_EXCLUDE } from '../../src/optionDefaults.ts';
import { openLayerStack } from '../../src/project/layerStack.ts';
import type { BoxEngine } from '../../src/project/openProject.ts';
import { probeBox, startBox } from '../../src/workers/box/index.ts';
import type { BoxOptions, TaskBox } from '../../src/workers/box/types.ts';
import { DEFAULT_LIMITS } from '../../src/workers/sandbox/sandbox.ts';
import { connect, fmt, percentile, REGISTRATION, resultTracker, runBatch, scratchRoot, startListener, type Bench, type Row } from '../support.ts';

const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', args, { cwd, encoding: 'utf8', env: { PATH: process.env.PATH, HOME: process.env.HOME, GIT_AUTHOR_NAME: 'b', GIT_AUTHOR_EMAIL: 'b@b', GIT_COMMITTER_NAME: 'b', GIT_COMMITTER_EMAIL: 'b@b' } });

/** A git project of `files` tracked files (an Express-like src/ and bulk modules), packed, with a small installed node_modules. */
async function project(b: Bench, files: number): Promise<string> {
  const root = await mkdtemp(join(scratchRoot(), `orch-bench-box-${files}-`));
  b.defer(() => rm(root, { recursive: true, force: true }));
  git(root, 'init', '-q', '-b', 'main');
  git(root, 'config', 'gc.auto', '0');
  mkdirSync(join(root, 'src/models'), { recursive: true });
  mkdirSync(join(root, 'src/routes'), { recursive: true });
  writeFileSync(join(root, '.gitignore'), 'node_modules/\n');
  writeFileSync(join(root, 'package.json'), '{"name":"bench","version":"1.0.0"}\n');
  writeFileSync(join(root, 'src/app.js'), "const express = require('express');\n");
  writeFileSync(join(root, 'src/models/user.js'), 'module.exports = {};\n');
  for (let i = 4; i < files; i++) {
    const dir = join(root, 'lib', String(Math.floor(i / 1000)));
    if (i === 4 || i % 1000 === 0) mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `m${i}.js`), `exports.n = ${i};\n`);
  }
  git(root, 'add', '-A', '.');
  git(root, 'commit', '-qm', 'base');
  // Packed, as a clone (or git's own auto-gc, off here so it cannot start mid-run) leaves a project:
  // 30,000 loose objects would make every git process of the task slower for a reason no real project has.
  git(root, 'gc', '-q');
  mkdirSync(join(root, 'node_modules/tiny'), { recursive: true });
  writeFileSync(join(root, 'node_modules/tiny/index.js'), 'exports.add = (a, b) => a + b;\n');
  return root;
}

/** The resources of the timed tasks, the same in the same order on both projects. */
const RESOURCES = ['invoices', 'orders', 'comments', 'products', 'payments', 'reviews', 'tickets', 'projects', 'messages', 'events', 'coupons', 'reports'];

const median = (xs: readonly number[]): number => percentile([...xs].sort((a, b) => a - b), 50);

/** Bytes in a box's layer: the files it lists, read inside the box. */
async function layerBytes(box: TaskBox): Promise<number> {
  const files = (await box.layer()).filter((e) => e.kind === 'file').map((e) => e.path);
  const read = files.length ? await box.read(files) : [];
  return read.reduce((n, f) => n + (f.content?.length ?? 0), 0);
}

/**
 * Box isolation: enqueue → result of the three-worker task on a 30-file and
 * a 30,000-file project (the ratio), set-up and tear-down of one task's
 * view, the disk a task takes, and tasks/s at c=64 against worktree and
 * task-folder isolation.
 */
export async function isolationCost(b: Bench): Promise<Row[]> {
  const why = await probeBox();
  if (why !== undefined) return [{ measure: 'box isolation', value: `not measured: no task box here (${why})` }];
  const rows: Row[] = [];
  // Each row is logged as it is measured: a run cut short still says what it found.
  const push = rows.push.bind(rows);
  rows.push = (...r: Row[]) => {
    for (const row of r) b.log(`row: ${row.measure}: ${row.value}`);
    return push(...r);
  };
  const redis = connect(b.url, 'bench:producer');
  b.defer(() => redis.quit());
  const tracker = await resultTracker(b.url);
  b.defer(() => tracker.close());

  // One task at a time, each timed from its push to its result; the engine wrapper times each box's start and close.
  const latency: Record<number, number[]> = {};
  const setup: Record<number, { start: number[]; close: number[]; bytes: number[]; snapshotMs: number }> = {};
  const n = b.quick ? 3 : 9;
  for (const files of [30, 30_000]) {
    const root = await project(b, files);
    const timing = { start: [] as number[], close: [] as number[], bytes: [] as number[], snapshotMs: 0 };
    const engine: BoxEngine = {
      probe: probeBox,
      start: async (o: BoxOptions) => {
        const t0 = performance.now();
        const box = await startBox(o);
        timing.start.push(performance.now() - t0);
        return {
          root: box.root,
          call: (tool, input, signal) => box.call(tool, input, signal),
          layer: () => box.layer(),
          read: (paths) => box.read(paths),
          write: (files) => box.write(files),
          survey: () => box.survey(),
          run: (command, timeoutMs, signal) => box.run(command, timeoutMs, signal),
          close: async () => {
            timing.bytes.push(await layerBytes(box).catch(() => 0));
            const t1 = performance.now();
            await box.close();
            timing.close.push(performance.now() - t1);
          },
        };
      },
    };
    const t0 = performance.now();
    const { keys } = await startListener(b, { project: root, isolation: 'box', concurrency: 1 }, { boxEngine: engine });
    timing.snapshotMs = performance.now() - t0;
    await runBatch(redis, keys, tracker, REGISTRATION, 1); // warm-up
    latency[files] = [];
    for (let i = 0; i < n; i++) {
      // A resource of its own each time: every task writes new files (a model, a router, a migration) and edits
      // the app, as the same task sent again would not (the stand-in does not write what is already there).
      const r = await runBatch(redis, keys, tracker, `Create a REST API for ${RESOURCES[i]} with authentication`, 1);
      latency[files]!.push(r.seconds * 1000);
    }
    setup[files] = timing;
    b.log(`box ${files} files: enqueue → result ${latency[files]!.map((x) => fmt(x)).join(', ')} ms`);
  }
  const small = median(latency[30]!);
  const large = median(latency[30_000]!);
  rows.push({
    measure: `box isolation: enqueue → result of a three-worker task (a REST API for a new resource each time), one at a time, 30-file vs 30,000-file project (median of ${n})`,
    value: `${fmt(small)} ms vs ${fmt(large)} ms: ${fmt(large / small, 2)}×`,
    target: '≤ 1.2×',
    ok: large / small <= 1.2,
  });
  for (const files of [30, 30_000]) {
    const s = setup[files]!;
    const total = median(s.start) + median(s.close);
    rows.push({
      measure: `box isolation, ${fmt(files)}-file project: set-up + tear-down of one task's view (box start, close; median of ${s.start.length})`,
      value: `${fmt(total, 1)} ms (start ${fmt(median(s.start), 1)}, close ${fmt(median(s.close), 1)}); disk per task ${fmt(median(s.bytes))} B in its layer, 0 B elsewhere; listener start with the snapshot ${fmt(s.snapshotMs)} ms`,
      target: '< 50 ms',
      ok: total < 50,
    });
  }

  // The view alone, outside the listener: a box on a snapshot of each project, started and closed.
  for (const files of [30, 30_000]) {
    const root = await project(b, files);
    const ws = await mkdtemp(join(scratchRoot(), 'orch-bench-layers-'));
    b.defer(() => rm(ws, { recursive: true, force: true }));
    const stack = await openLayerStack({ project: await openGitProject(root), root: ws, exclude: DEFAULT_SNAPSHOT_EXCLUDE, logger: pino({ level: 'silent' }) });
    b.defer(() => stack.close());
    const times: number[] = [];
    for (let i = 0; i < (b.quick ? 5 : 20); i++) {
      const t0 = performance.now();
      const box = await startBox({ taskId: `bench-${i}`, lower: stack.view().lower, root: '/workspace', limits: { ...DEFAULT_LIMITS, layerBytes: 256 * 1024 ** 2 }, env: { PATH: '/usr/bin:/bin' }, bashTimeoutMs: 10_000, maxOutputBytes: 4096 });
      await box.close();
      times.push(performance.now() - t0);
    }
    rows.push({
      measure: `a box on the ${fmt(files)}-file project's view, started and closed alone (median of ${times.length}); its snapshot at listener start`,
      value: `${fmt(median(times), 1)} ms; snapshot (${stack.snapshot.method}) ${fmt(stack.snapshot.ms)} ms, once per listener`,
    });
  }

  // Tasks/s at c=64, the throughput scenario's task, per isolation (a git project of 30 files).
  const count = b.quick ? 64 : 192;
  for (const isolation of ['box', 'worktree', 'task-folder'] as const) {
    const root = await project(b, 30);
    const { keys } = await startListener(b, isolation === 'task-folder' ? { concurrency: 64 } : { project: root, isolation, concurrency: 64 });
    await runBatch(redis, keys, tracker, REGISTRATION, 8); // warm-up
    const r = await runBatch(redis, keys, tracker, REGISTRATION, count, 900_000);
    rows.push({
      measure: `throughput, 3-worker tasks, 0 ms model, c=64, --isolation ${isolation} (${count} tasks, one project)`,
      value: `${fmt(count / r.seconds, 1)} tasks/s${r.failed ? ` (${r.failed} not completed)` : ''}`,
    });
    b.log(`throughput ${isolation}: ${fmt(count / r.seconds, 1)} tasks/s`);
  }
  return rows;
}
