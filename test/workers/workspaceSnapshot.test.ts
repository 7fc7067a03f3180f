import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileChangeLog } from '../../src/workers/changes.ts';
import { poolState } from '../../src/workers/threads/pool.ts';
import type { WalkLimits } from '../../src/workers/threads/walkLimits.ts';
import { bashTool } from '../../src/workers/tools/bash.ts';
import { recordChanges, snapshotWorkspace } from '../../src/workers/tools/workspaceSnapshot.ts';
import { BASH, tempDir, toolContext } from './fixtures.ts';
import { Workspace } from '../../src/workers/workspace.ts';

const ALL: WalkLimits = { timeoutMs: 600_000, maxEntries: 10_000_000 };

function put(root: string, rel: string, content = rel): void {
  mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
  writeFileSync(path.join(root, rel), content);
}

/** Snapshot, change, diff: what the change log holds and the note, if any. */
async function track(root: string, change: () => void, limits: WalkLimits = ALL) {
  const changes = new FileChangeLog(root);
  const before = await snapshotWorkspace(root, limits);
  change();
  const note = await recordChanges(before, root, limits, changes);
  return { ...changes.snapshot(), note };
}

// Names whose order differs by rule: '-', ' ' and '.' sort before '/' in a
// plain string comparison, so `a-b/x` < `a/x` as strings but `a/x` comes
// first folder by folder; surrogate pairs (😀) sort before U+FF46 by code
// unit and after it by code point. A walk that met them in another order
// than the merge expects would report unchanged files as deleted and created.
const TRICKY = ['a/x', 'a-b/x', 'a.b/x', 'a b/x', 'a/b/c/d', 'a/b-c', 'ab', 'A', 'é/x', '日本/x', '😀', 'ｆ', 'z/😀/x', 'z/ｆ/x', '.hidden/x'];

describe('workspace snapshots (walked in a worker thread)', () => {
  it('sees nothing when nothing changed, whatever the names', async () => {
    const root = await tempDir();
    for (const rel of TRICKY) put(root, rel);
    expect(await track(root, () => {})).toEqual({ created: [], modified: [], deleted: [], note: undefined });
  });

  it('records files created, modified and deleted inside nested folders', async () => {
    const root = await tempDir();
    for (const rel of TRICKY) put(root, rel);
    put(root, 'x.txt');
    put(root, 'same.txt', 'aaaa');
    const tracked = await track(root, () => {
      appendFileSync(path.join(root, 'a/b/c/d'), 'more');
      writeFileSync(path.join(root, 'same.txt'), 'bbbb'); // same size: the times tell
      put(root, 'a/b/new/deep/n.txt');
      put(root, 'a b/w');
      put(root, 'z/ｆ/y');
      rmSync(path.join(root, 'a-b'), { recursive: true });
      rmSync(path.join(root, '😀'));
      // A file that became a folder: the file is gone, the folder's file is new.
      rmSync(path.join(root, 'x.txt'));
      put(root, 'x.txt/inner');
    });
    expect(tracked).toEqual({
      created: ['a b/w', 'a/b/new/deep/n.txt', 'x.txt/inner', 'z/ｆ/y'],
      modified: ['a/b/c/d', 'same.txt'],
      deleted: ['a-b/x', 'x.txt', '😀'],
      note: undefined,
    });
  });

  it('does not follow symbolic links, and leaves node_modules and .git out', async () => {
    const root = await tempDir();
    const outside = await tempDir('orch-outside-');
    put(outside, 'secret.txt', 'secret');
    put(root, 'src/a.ts');
    symlinkSync(outside, path.join(root, 'linked-dir'));
    symlinkSync(path.join(outside, 'secret.txt'), path.join(root, 'linked-file'));
    put(root, 'node_modules/pkg/index.js');
    put(root, '.git/HEAD');
    const followed = await track(root, () => {
      // Behind the links, and in the skipped folders: none of it is the workspace's.
      appendFileSync(path.join(outside, 'secret.txt'), ' changed');
      put(outside, 'new.txt');
      put(root, 'node_modules/pkg/new.js');
      appendFileSync(path.join(root, '.git/HEAD'), 'x');
    });
    expect(followed).toEqual({ created: [], modified: [], deleted: [], note: undefined });
    // The links themselves are files of the workspace: a new target is a change.
    const relinked = await track(root, () => {
      rmSync(path.join(root, 'linked-file'));
      symlinkSync('/etc/hostname', path.join(root, 'linked-file'));
      symlinkSync(outside, path.join(root, 'another-link'));
    });
    expect(relinked).toMatchObject({ created: ['another-link'], modified: ['linked-file'], deleted: [] });
  });

  it('records what lies before the point where an entry limit cut the walks, nothing past it, and says so', async () => {
    const root = await tempDir();
    // Ten folders of 30 files: the root (10 entries) and d0..d2 (90) fit in 105, d3 does not.
    for (let d = 0; d < 10; d++) for (let f = 0; f < 30; f++) put(root, `d${d}/f${String(f).padStart(2, '0')}`);
    const tracked = await track(
      root,
      () => {
        for (const d of [0, 9]) appendFileSync(path.join(root, `d${d}/f01`), 'more');
        for (const d of [1, 8]) put(root, `d${d}/new`);
        for (const d of [2, 7]) rmSync(path.join(root, `d${d}/f02`));
        put(root, 'top.txt');
      },
      { timeoutMs: 600_000, maxEntries: 106 },
    );
    expect(tracked).toMatchObject({ created: ['d1/new', 'top.txt'], modified: ['d0/f01'], deleted: ['d2/f02'] });
    expect(tracked.note).toMatch(/too large to track this command's file changes in full: it stops after 106 files and folders/);
    expect(tracked.note).toContain('stopped at "d3/"');
    expect(tracked.note).toContain('will not be committed');
  });

  it('when only the walk after the command is cut, still records what it reached', async () => {
    const root = await tempDir();
    for (let f = 0; f < 10; f++) put(root, `f${f}`);
    const tracked = await track(
      root,
      () => {
        for (let f = 0; f < 100; f++) put(root, `generated/g${f}`);
        put(root, 'made.txt');
        rmSync(path.join(root, 'f3'));
      },
      { timeoutMs: 600_000, maxEntries: 50 },
    );
    expect(tracked).toMatchObject({ created: ['made.txt'], modified: [], deleted: ['f3'] });
    expect(tracked.note).toContain('stopped at "generated/"');
  });

  it('the Bash tool returns the command output with the note when a walk is cut short', async () => {
    const dir = await tempDir();
    const workspace = await Workspace.open(path.join(dir, 'ws'));
    for (let f = 0; f < 60; f++) put(workspace.root, `bulk/b${f}`);
    const ctx = toolContext(workspace, { bash: { ...BASH, walkMaxEntries: 20 } });
    const out = await bashTool.run({ command: 'echo hello > made.txt; echo out; touch bulk/b1' }, ctx);
    expect(out).toMatch(/^out\n\nNote: the workspace is too large to track this command's file changes in full: it stops after 20 files and folders/);
    expect(out).toContain('stopped at "bulk/"');
    expect(ctx.changes.snapshot()).toEqual({ created: ['made.txt'], modified: [], deleted: [] });
    // A failing command keeps its exit code after the note.
    await expect(bashTool.run({ command: 'echo failing; exit 3' }, ctx)).rejects.toThrow(/^failing\n\nNote: the workspace is too large[\s\S]*\nExit code 3$/);
  });
});

describe('a walk of 100,000 files', () => {
  let big: string;
  beforeAll(() => {
    big = mkdtempSync(path.join(tmpdir(), 'orch-big-'));
    // 100 folders of 1,000 empty files, made by a few touch processes.
    execFileSync('bash', ['-c', 'for d in $(seq 1 100); do mkdir d$d && (cd d$d && seq 1 1000 | xargs touch); done'], { cwd: big });
  }, 120_000);
  afterAll(() => rmSync(big, { recursive: true, force: true }));

  it('runs in a worker thread: the event loop keeps turning until the snapshot is taken', async () => {
    let taken = false;
    let turns = 0;
    let busy = 0;
    const spin = () => {
      if (taken) return;
      turns++;
      busy = Math.max(busy, poolState().busy);
      setImmediate(spin);
    };
    setImmediate(spin);
    const before = await snapshotWorkspace(big, ALL);
    taken = true;
    expect(before.ok && before.packed.files).toBe(100_000);
    // The job sat in a pool thread, and the main thread was free to turn meanwhile.
    expect(busy).toBe(1);
    expect(turns).toBeGreaterThan(10);
    const changes = new FileChangeLog(big);
    appendFileSync(path.join(big, 'd100/999'), 'x');
    expect(await recordChanges(before, big, ALL, changes)).toBeUndefined();
    expect(changes.snapshot()).toEqual({ created: [], modified: ['d100/999'], deleted: [] });
  }, 120_000);

  it('stops at its time limit, records nothing past it, and says so', async () => {
    const limits = { timeoutMs: 0, maxEntries: 10_000_000 };
    const changes = new FileChangeLog(big);
    const before = await snapshotWorkspace(big, limits);
    expect(before.ok && before.packed.cut?.reason).toBe('time');
    const note = await recordChanges(before, big, limits, changes);
    expect(note).toMatch(/it stops after 0 ms, and it stopped (before the first file|at ")/);
    expect(changes.snapshot()).toEqual({ created: [], modified: [], deleted: [] });
  }, 60_000);
});
