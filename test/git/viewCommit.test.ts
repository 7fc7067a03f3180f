import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, chmodSync, renameSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openGitProject } from '../../src/git/project.ts';
import { commitView, replayInto } from '../../src/git/viewCommit.ts';
import { dirBoxFactory, type DirBox } from '../support/dirBox.ts';
import { gitIn } from '../support/project.ts';

const made: string[] = [];
const boxes: DirBox[] = [];
afterEach(async () => {
  for (const b of boxes.splice(0)) await b.close();
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
});
const temp = (prefix: string) => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
};

const identity = { name: 'backend-orchestrator', email: 'bo@localhost' };
const limits = { processes: 64, memoryBytes: 2 ** 30, cpuSeconds: 60, fileSizeBytes: 2 ** 30, tmpBytes: 2 ** 26, layerBytes: 2 ** 26 };

/** A project with a few files, its branch `backend/t` at main, and a box whose view is main's files. */
async function setup() {
  const root = temp('orch-vc-project-');
  gitIn(root, 'init', '-q', '-b', 'main');
  mkdirSync(join(root, 'src'));
  writeFileSync(join(root, 'src/a.js'), 'a\n');
  writeFileSync(join(root, 'src/old.js'), 'old\n');
  writeFileSync(join(root, 'gone.txt'), 'x\n');
  writeFileSync(join(root, 'becomes-dir'), 'file\n');
  writeFileSync(join(root, '.gitignore'), 'node_modules/\n*.log\n');
  gitIn(root, 'add', '.');
  gitIn(root, 'commit', '-qm', 'base');
  const base = gitIn(root, 'rev-parse', 'main');
  gitIn(root, 'branch', 'backend/t', base);
  const lower = temp('orch-vc-lower-');
  gitIn(root, '--work-tree', lower, 'checkout', 'main', '--', '.');
  gitIn(root, 'reset', '-q');
  const project = await openGitProject(root);
  const box = (await dirBoxFactory()({ taskId: 't', lower: [lower], root: '/workspace', limits, env: {}, bashTimeoutMs: 1000, maxOutputBytes: 1000 })) as DirBox;
  boxes.push(box);
  return { root, project, base, box, scratch: temp('orch-vc-scratch-') };
}

const treeOf = (root: string, rev: string) =>
  gitIn(root, 'ls-tree', '-r', '--format=%(objectmode) %(path)', rev)
    .split('\n')
    .filter(Boolean);

describe('a worker commit made from the view with git plumbing', () => {
  it('commits created, modified, executable, symlinked, deleted and renamed files, and says what changed as git saw it', async () => {
    const { root, project, base, box, scratch } = await setup();
    const v = box.dir;
    writeFileSync(join(v, 'src/a.js'), 'a changed\n');
    writeFileSync(join(v, 'src/new.js'), 'new\n');
    writeFileSync(join(v, 'run.sh'), '#!/bin/sh\n');
    chmodSync(join(v, 'run.sh'), 0o755);
    symlinkSync('src/a.js', join(v, 'link'));
    unlinkSync(join(v, 'gone.txt'));
    renameSync(join(v, 'src/old.js'), join(v, 'src/renamed.js'));
    unlinkSync(join(v, 'becomes-dir'));
    mkdirSync(join(v, 'becomes-dir'));
    writeFileSync(join(v, 'becomes-dir/inside.js'), 'in\n');
    const out = await commitView(project, box, {
      ref: 'refs/heads/backend/t',
      written: ['src/a.js', 'src/new.js', 'run.sh', 'link', 'src/renamed.js', 'becomes-dir/inside.js'],
      deleted: ['gone.txt', 'src/old.js', 'becomes-dir'],
      message: 'db-worker: test\n',
      identity,
      scratch,
    });
    expect(out.issues).toEqual([]);
    expect(gitIn(root, 'rev-parse', 'backend/t')).toBe(out.commit);
    expect(gitIn(root, 'rev-parse', `${out.commit}^`)).toBe(base);
    expect(treeOf(root, out.commit).sort()).toEqual(
      ['100644 .gitignore', '100644 becomes-dir/inside.js', '120000 link', '100755 run.sh', '100644 src/a.js', '100644 src/new.js', '100644 src/renamed.js'].sort(),
    );
    expect(gitIn(root, 'show', `${out.commit}:src/renamed.js`)).toBe('old');
    expect(gitIn(root, 'cat-file', 'blob', `${out.commit}:link`)).toBe('src/a.js');
    // The rename is a deletion and a creation; git finds it again from the two.
    expect(gitIn(root, 'diff', '-M', '--name-status', base, out.commit)).toMatch(/^R100\tsrc\/old\.js\tsrc\/renamed\.js$/m);
    expect(out.changed.sort((a, b) => a.path.localeCompare(b.path))).toEqual([
      { path: 'becomes-dir', change: 'deleted' },
      { path: 'becomes-dir/inside.js', change: 'created' },
      { path: 'gone.txt', change: 'deleted' },
      { path: 'link', change: 'created' },
      { path: 'run.sh', change: 'created' },
      { path: 'src/a.js', change: 'modified' },
      { path: 'src/new.js', change: 'created' },
      { path: 'src/old.js', change: 'deleted' },
      { path: 'src/renamed.js', change: 'created' },
    ]);
    // The project folder and its index never saw any of it.
    expect(readFileSync(join(root, 'src/a.js'), 'utf8')).toBe('a\n');
    expect(existsSync(join(root, 'src/new.js'))).toBe(false);
    expect(gitIn(root, 'status', '--porcelain')).toBe('');
    expect(gitIn(root, 'rev-parse', 'main')).toBe(base);
  });

  it('leaves out repositories a worker made, ignored files and non-deletions, each with an issue, and runs no filter', async () => {
    const { root, project, box, scratch } = await setup();
    const v = box.dir;
    const marker = join(scratch, 'filter-ran');
    gitIn(root, 'config', 'filter.evil.clean', `touch ${marker}; cat`);
    writeFileSync(join(v, '.gitattributes'), '* filter=evil\n');
    mkdirSync(join(v, 'nested/objects'), { recursive: true });
    mkdirSync(join(v, 'nested/refs'));
    writeFileSync(join(v, 'nested/HEAD'), 'ref: refs/heads/main\n');
    writeFileSync(join(v, 'nested/config'), '[core]\n\tfsmonitor = touch /tmp/pwned\n');
    mkdirSync(join(v, 'sub/.git'), { recursive: true });
    writeFileSync(join(v, 'sub/.git/config'), '[core]\n');
    mkdirSync(join(v, 'node_modules/pkg'), { recursive: true });
    writeFileSync(join(v, 'node_modules/pkg/index.js'), 'module.exports = 1\n');
    writeFileSync(join(v, 'debug.log'), 'log\n');
    writeFileSync(join(v, 'kept.js'), 'kept\n');
    const out = await commitView(project, box, {
      ref: 'refs/heads/backend/t',
      written: ['.gitattributes', 'nested/config', 'nested/HEAD', 'sub/.git/config', 'node_modules/pkg/index.js', 'debug.log', 'kept.js', '../escape', '/abs'],
      deleted: ['src/a.js', 'never-was.js', 'src'],
      message: 'api-worker: test\n',
      identity,
      scratch,
    });
    expect(treeOf(root, out.commit).map((l) => l.split(' ')[1]).sort()).toEqual(['.gitattributes', '.gitignore', 'becomes-dir', 'gone.txt', 'kept.js', 'src/a.js', 'src/old.js']);
    expect(out.issues.join('\n')).toMatch(/^nested is a git repository inside the project \(HEAD, objects\/ and refs\/\)/m);
    expect(out.issues.join('\n')).toMatch(/^sub\/\.git is a git repository inside the project \(a \.git entry\)/m);
    expect(out.issues.join('\n')).toMatch(/deletions ignored: .*src\/a\.js \(still in the view\).*never-was\.js \(not a tracked file/);
    expect(existsSync(marker)).toBe(false);
    expect(gitIn(root, 'show', `${out.commit}:kept.js`)).toBe('kept');
  });

  it('replays a branch into a fresh view: the view then equals the last recorded commit', async () => {
    const { root, project, base, box, scratch } = await setup();
    writeFileSync(join(box.dir, 'src/new.js'), 'new\n');
    unlinkSync(join(box.dir, 'gone.txt'));
    symlinkSync('src', join(box.dir, 'srclink'));
    const first = await commitView(project, box, { ref: 'refs/heads/backend/t', written: ['src/new.js', 'srclink'], deleted: ['gone.txt'], message: 'x\n', identity, scratch });
    // A fresh box on the base (what a crash leaves: the old one and its half-written files are gone).
    const lower = temp('orch-vc-lower2-');
    gitIn(root, '--work-tree', lower, 'checkout', base, '--', '.');
    gitIn(root, 'reset', '-q');
    const again = (await dirBoxFactory()({ taskId: 't', lower: [lower], root: '/workspace', limits, env: {}, bashTimeoutMs: 1, maxOutputBytes: 1 })) as DirBox;
    boxes.push(again);
    expect(await replayInto(project, again, base, first.commit)).toBe(3);
    expect(readFileSync(join(again.dir, 'src/new.js'), 'utf8')).toBe('new\n');
    expect(existsSync(join(again.dir, 'gone.txt'))).toBe(false);
    expect((await again.read(['srclink']))[0]).toMatchObject({ kind: 'symlink', target: 'src' });
  });
});
