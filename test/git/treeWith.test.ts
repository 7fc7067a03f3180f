import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { treeWith, type TreeEntry } from '../../src/git/viewCommit.ts';
import { gitIn } from '../support/project.ts';

const made: string[] = [];
afterEach(() => {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
});

type State = Map<string, TreeEntry>;

function repo() {
  const root = mkdtempSync(join(tmpdir(), 'orch-tree-'));
  made.push(root);
  gitIn(root, 'init', '-q', '-b', 'main');
  const blobs = new Map<string, string>();
  const blob = (content: string) => {
    let id = blobs.get(content);
    if (id === undefined) {
      id = execFileSync('git', ['hash-object', '-w', '--stdin'], { cwd: root, input: content, encoding: 'utf8' }).trim();
      blobs.set(content, id);
    }
    return id;
  };
  /** The tree of exactly `state`, made the long way: a fresh index of every entry, then write-tree. */
  const treeOf = (state: State) => {
    const index = join(root, '.git', `index-${made.length}-${Math.random()}`);
    const env = { ...process.env, GIT_INDEX_FILE: index };
    const info = [...state].map(([p, e]) => `${e.mode} ${e.id}\t${p}\0`).join('');
    if (info) execFileSync('git', ['update-index', '--add', '-z', '--index-info'], { cwd: root, env, input: info });
    const tree = execFileSync('git', ['write-tree'], { cwd: root, env, encoding: 'utf8' }).trim();
    rmSync(index, { force: true });
    return tree;
  };
  const commitOf = (tree: string) => gitIn(root, 'commit-tree', tree, '-m', 'base');
  return { root, blob, treeOf, commitOf, project: { commonDir: join(root, '.git') } };
}

/** A small deterministic generator, so a failing case can be replayed. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const folders = (state: State) => [...new Set([...state.keys()].flatMap((p) => p.split('/').slice(0, -1).map((_, i, parts) => parts.slice(0, i + 1).join('/'))))];
const clashes = (state: State, p: string) =>
  [...state.keys()].some((q) => q === p || q.startsWith(`${p}/`) || p.startsWith(`${q}/`));

describe('a tree rebuilt from the changed folders only (treeWith)', () => {
  it('equals the tree of the whole new state, over random creations, edits, deletions and files and folders replacing each other', async () => {
    const { blob, treeOf, commitOf, project } = repo();
    // Names whose order in a tree is where hand-sorting goes wrong: `a` as a folder sorts as `a/`, after `a-b` and `a.b`.
    const base: State = new Map();
    for (const p of ['a/x.js', 'a-b', 'a.b', 'a0', 'b/c/d.txt', 'b/e.txt', 'src/routes/users.js', 'src/routes/posts.js', 'src/app.js', 'run.sh', 'link', 'deep/1/2/3/f'])
      base.set(p, { mode: p === 'run.sh' ? '100755' : p === 'link' ? '120000' : '100644', id: blob(p) });
    base.set('vendor/sub', { mode: '160000', id: '1'.repeat(40) }); // a submodule: kept by id, never looked into
    const baseCommit = commitOf(treeOf(base));

    const next = rng(2026);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
    for (let trial = 0; trial < 40; trial++) {
      const state: State = new Map(base);
      for (let op = 0, ops = 1 + Math.floor(next() * 6); op < ops; op++) {
        const files = [...state.keys()].filter((p) => state.get(p)!.mode !== '160000');
        const kind = pick(['edit', 'create', 'delete', 'folder-to-file', 'file-to-folder', 'exec']);
        if (kind === 'edit' && files.length) state.set(pick(files), { mode: '100644', id: blob(`edit ${trial} ${op}`) });
        if (kind === 'exec' && files.length) state.set(pick(files), { mode: '100755', id: blob(`exec ${trial} ${op}`) });
        if (kind === 'delete' && files.length) state.delete(pick(files));
        if (kind === 'create') {
          const p = [pick(['', 'a/', 'b/c/', 'new/', 'new/deeper/', 'src/']), `n${trial}-${op}`, pick(['', '.js', '/leaf'])].join('');
          if (!clashes(state, p)) state.set(p, { mode: '100644', id: blob(`create ${p}`) });
        }
        if (kind === 'folder-to-file' && folders(state).length) {
          const f = pick(folders(state));
          for (const p of [...state.keys()]) if (p.startsWith(`${f}/`)) state.delete(p);
          state.set(f, { mode: '100644', id: blob(`was a folder ${f}`) });
        }
        if (kind === 'file-to-folder' && files.length) {
          const f = pick(files);
          state.delete(f);
          state.set(`${f}/inside`, { mode: '100644', id: blob(`was a file ${f}`) });
        }
      }
      // What commitView hands over: every path whose entry changed, and every tracked path now gone.
      const changes = new Map<string, TreeEntry | null>();
      for (const [p, e] of state) if (base.get(p)?.id !== e.id || base.get(p)?.mode !== e.mode) changes.set(p, e);
      for (const p of base.keys()) if (!state.has(p)) changes.set(p, null);

      expect(await treeWith(project, baseCommit, changes), `trial ${trial}: ${[...changes.keys()].join(', ')}`).toBe(treeOf(state));
    }
  });

  it('writes only the changed folders and their parents, however large the rest of the tree', async () => {
    const { root, blob, treeOf, commitOf, project } = repo();
    const big: State = new Map();
    const shared = [0, 1, 2, 3, 4, 5, 6, 7, 8].map((i) => blob(`shared ${i}`));
    for (let f = 0; f < 200; f++) {
      // One file of each folder its own, so that no two folders are the same tree.
      big.set(`pkg${f}/lib/own.js`, { mode: '100644', id: blob(`own ${f}`) });
      shared.forEach((id, i) => big.set(`pkg${f}/lib/file${i}.js`, { mode: '100644', id }));
    }
    const baseCommit = commitOf(treeOf(big));
    gitIn(root, 'gc', '-q'); // everything so far packed: the loose objects left after are what treeWith wrote
    const loose = () => readdirSync(join(root, '.git/objects')).filter((d) => /^[0-9a-f]{2}$/.test(d)).flatMap((d) => readdirSync(join(root, '.git/objects', d)).map((f) => d + f));
    const before = new Set(loose());
    const id = blob('changed');

    const tree = await treeWith(project, baseCommit, new Map([['pkg7/lib/file3.js', { mode: '100644', id }]]));
    const written = loose().filter((o) => !before.has(o) && o !== id);
    // pkg7/lib, pkg7 and the root: three trees of the 201 in the project.
    expect(written.sort()).toEqual([tree, gitIn(root, 'rev-parse', `${tree}:pkg7`), gitIn(root, 'rev-parse', `${tree}:pkg7/lib`)].sort());
    expect(gitIn(root, 'diff-tree', '-r', '--name-only', baseCommit, tree)).toBe('pkg7/lib/file3.js');
  });

  it('drops a folder left empty, and gives the empty tree when nothing is left', async () => {
    const { root, blob, treeOf, commitOf, project } = repo();
    const base: State = new Map([
      ['only/one/file', { mode: '100644', id: blob('x') }],
      ['top', { mode: '100644', id: blob('y') }],
    ]);
    const baseCommit = commitOf(treeOf(base));
    const emptied = await treeWith(project, baseCommit, new Map([['only/one/file', null]]));
    expect(gitIn(root, 'ls-tree', '-r', '--name-only', emptied)).toBe('top');
    const nothing = await treeWith(project, baseCommit, new Map([['only/one/file', null], ['top', null]]));
    expect(nothing).toBe(gitIn(root, 'hash-object', '-t', 'tree', '/dev/null'));
  });

  it('refuses a path with a newline or a .. segment rather than read the wrong folder', async () => {
    const { blob, treeOf, commitOf, project } = repo();
    const baseCommit = commitOf(treeOf(new Map([['a/b', { mode: '100644', id: blob('x') }]])));
    for (const bad of ['a\nHEAD/b', 'a/../b', '/a']) {
      await expect(treeWith(project, baseCommit, new Map([[bad, { mode: '100644', id: blob('y') }]]))).rejects.toThrow(/not a relative path/);
    }
  });
});
