import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openGitProject } from '../../src/git/project.ts';
import { mergeIntoProject } from '../../src/git/merge.ts';
import { commitPaths, diffstat, openWorktree, removeWorktree } from '../../src/git/worktree.ts';
import { gitIn, sampleProject } from '../support/project.ts';

const identity = { name: 'Bot', email: 'bot@example.com' };

async function setup() {
  const dir = await sampleProject();
  const project = await openGitProject(dir);
  const wtDir = join(realpathSync(mkdtempSync(join(tmpdir(), 'orch-wts-'))), 'task-1');
  const wt = await openWorktree(project, { dir: wtDir, branch: 'backend/task-1' });
  return { dir, project, wt };
}

describe('task worktrees', () => {
  it('commits exactly the paths given (not a neighbour worker\'s files, not ignored ones), deletions included', async () => {
    const { dir, wt } = await setup();
    expect(wt.base).toBe(gitIn(dir, 'rev-parse', 'main'));
    writeFileSync(join(wt.dir, 'mine.js'), 'mine\n');
    writeFileSync(join(wt.dir, 'neighbour.js'), 'half-written by another worker');
    writeFileSync(join(wt.dir, '.env'), 'SECRET=1\n'); // the sample's .gitignore ignores it
    rmSync(join(wt.dir, 'src/db.js'));
    const { commit: sha, issues } = await commitPaths(wt, ['mine.js', '.env', 'src/db.js', 'never-existed.js'], 'db-worker: test\n', identity);
    expect(issues).toEqual([]);
    expect(gitIn(dir, 'rev-parse', 'backend/task-1')).toBe(sha);
    const files = gitIn(dir, 'ls-tree', '-r', '--name-only', sha).split('\n');
    expect(files).toContain('mine.js');
    expect(files).not.toContain('neighbour.js');
    expect(files).not.toContain('.env');
    expect(files).not.toContain('src/db.js');
    expect(gitIn(dir, 'log', '-1', '--format=%an <%ae>|%s', sha)).toBe('Bot <bot@example.com>|db-worker: test');
  });

  it('ignores a .git file a model rewrote in the worktree, and still commits to the task branch', async () => {
    const { dir, wt } = await setup();
    writeFileSync(join(wt.dir, '.git'), `gitdir: ${join(dir, '.git')}\n`);
    writeFileSync(join(wt.dir, 'a.js'), 'a\n');
    const before = gitIn(dir, 'rev-parse', 'main');
    const { commit: sha } = await commitPaths(wt, ['a.js', '.git'], 'api-worker: a\n', identity);
    expect(gitIn(dir, 'rev-parse', 'backend/task-1')).toBe(sha);
    expect(gitIn(dir, 'rev-parse', 'main')).toBe(before);
    expect(gitIn(dir, 'status', '--porcelain')).toBe('');
  });

  it('reopened after a crash, resets to the recorded commit and drops what was not committed; removal keeps the branch', async () => {
    const { dir, project, wt } = await setup();
    writeFileSync(join(wt.dir, 'done.js'), 'done\n');
    const { commit: recorded } = await commitPaths(wt, ['done.js'], 'db-worker: done\n', identity);
    writeFileSync(join(wt.dir, 'half.js'), 'half');
    writeFileSync(join(wt.dir, 'done.js'), 'garbled');
    writeFileSync(join(wt.adminDir, 'index.lock'), ''); // a killed git left its lock
    const again = await openWorktree(project, { dir: wt.dir, branch: wt.branch, base: wt.base, resetTo: recorded });
    expect(existsSync(join(again.dir, 'half.js'))).toBe(false);
    expect(gitIn(again.dir, 'show', 'HEAD:done.js')).toBe('done');
    expect(gitIn(dir, 'rev-parse', 'backend/task-1')).toBe(recorded);
    await removeWorktree(project, again.dir);
    expect(existsSync(again.dir)).toBe(false);
    expect(gitIn(dir, 'worktree', 'list').split('\n')).toHaveLength(1);
    expect(gitIn(dir, 'rev-parse', 'backend/task-1')).toBe(recorded);
    // And the folder can be made again from the kept branch.
    const fresh = await openWorktree(project, { dir: wt.dir, branch: wt.branch, resetTo: recorded });
    expect(fresh.base).toBe(wt.base);
    expect(existsSync(join(fresh.dir, 'done.js'))).toBe(true);
  });
});

describe('host git runs nothing a worker wrote', () => {
  /** Filter and merge drivers in the project's config (as if an attacker had got them in), each leaving a marker when run. */
  function plantDrivers(dir: string) {
    const marks = realpathSync(mkdtempSync(join(tmpdir(), 'orch-marks-')));
    const script = join(marks, 'driver.sh');
    writeFileSync(script, `#!/bin/sh\ntr "\\\\0" " " < /proc/$(cut -d" " -f4 /proc/$PPID/stat)/cmdline >> "${marks}/ran-$1"\ncat\n`, { mode: 0o755 });
    gitIn(dir, 'config', 'filter.x.clean', `${script} clean`);
    gitIn(dir, 'config', 'filter.x.smudge', `${script} smudge`);
    gitIn(dir, 'config', 'filter.x.required', 'true');
    gitIn(dir, 'config', 'merge.x.driver', `${script} merge`);
    gitIn(dir, 'config', 'diff.x.textconv', `${script} textconv`);
    return { ran: () => readdirSync(marks).filter((f) => f.startsWith('ran-')).map((f) => f + readFileSync(join(marks, f), 'utf8')) };
  }

  it('no filter or merge driver runs in the worker commit, the resume reset or the merge', async () => {
    const { dir, project, wt } = await setup();
    const { ran } = plantDrivers(dir);
    writeFileSync(join(wt.dir, '.gitattributes'), '*.js filter=x merge=x diff=x\n');
    writeFileSync(join(wt.dir, 'src/app.js'), '1\n2\n3\n4\n5\nworker\n');
    const { commit } = await commitPaths(wt, ['.gitattributes', 'src/app.js'], 'api-worker: attrs\n', identity);
    expect(gitIn(dir, 'show', `${commit}:src/app.js`)).toContain('worker');
    // A resume: the worktree is reset to the recorded commit (a checkout through the smudge filter, were it run).
    writeFileSync(join(wt.dir, 'src/app.js'), 'garbled');
    const again = await openWorktree(project, { dir: wt.dir, branch: wt.branch, base: wt.base, resetTo: commit });
    expect(readFileSync(join(again.dir, 'src/app.js'), 'utf8')).toContain('worker');
    // The project moved meanwhile, with the attributes in its checkout too: a real merge, then a checkout of its result.
    writeFileSync(join(dir, '.gitattributes'), '*.js filter=x merge=x diff=x\n');
    writeFileSync(join(dir, 'src/app.js'), `main\n${readFileSync(join(dir, 'src/app.js'), 'utf8')}`);
    gitIn(dir, '-c', 'filter.x.clean=cat', '-c', 'filter.x.smudge=cat', 'add', '-A');
    gitIn(dir, '-c', 'filter.x.clean=cat', '-c', 'filter.x.smudge=cat', 'commit', '-qm', 'main moved');
    const merged = await mergeIntoProject(project, { ref: wt.ref, message: 'Merge\n', identity });
    expect(merged.kind).toBe('conflict'); // both sides rewrote the sample's app.js: no driver was asked to settle it
    expect(ran()).toEqual([]);
    await diffstat(project, wt.base, commit);
    // The worktree made again from the kept branch, whose tree holds the attributes (worktree add checks it out).
    await removeWorktree(project, again.dir);
    const remade = await openWorktree(project, { dir: wt.dir, branch: wt.branch, resetTo: commit });
    expect(readFileSync(join(remade.dir, 'src/app.js'), 'utf8')).toContain('worker');
    expect(ran()).toEqual([]);
  });

  it('a merge that goes through checks out without the smudge filter', async () => {
    const { dir, project, wt } = await setup();
    const { ran } = plantDrivers(dir);
    writeFileSync(join(wt.dir, '.gitattributes'), '*.js filter=x merge=x\n');
    writeFileSync(join(wt.dir, 'new.js'), 'new\n');
    const { commit } = await commitPaths(wt, ['.gitattributes', 'new.js'], 'api-worker: new\n', identity);
    writeFileSync(join(dir, 'other.txt'), 'other\n');
    gitIn(dir, 'add', '-A');
    gitIn(dir, 'commit', '-qm', 'main moved');
    expect((await mergeIntoProject(project, { ref: wt.ref, message: 'Merge\n', identity })).kind).toBe('merged');
    expect(readFileSync(join(dir, 'new.js'), 'utf8')).toBe('new\n');
    expect(gitIn(dir, 'rev-parse', 'main^2')).toBe(commit);
    expect(ran()).toEqual([]);
  });
});

describe('what a worker commit leaves out', () => {
  it('refuses a repository a worker made (HEAD, objects/, refs/, or a .git), commits the rest, and says why', async () => {
    const { dir, wt } = await setup();
    mkdirSync(join(wt.dir, 'sub/objects/info'), { recursive: true });
    mkdirSync(join(wt.dir, 'sub/refs/heads'), { recursive: true });
    writeFileSync(join(wt.dir, 'sub/HEAD'), 'ref: refs/heads/main\n');
    writeFileSync(join(wt.dir, 'sub/config'), '[core]\n\tbare = false\n\tworktree = ..\n\tfsmonitor = /tmp/x.sh\n');
    writeFileSync(join(wt.dir, 'sub/objects/info/packs'), '\n');
    writeFileSync(join(wt.dir, 'sub/refs/heads/main'), '0'.repeat(40));
    mkdirSync(join(wt.dir, 'lib/.git'), { recursive: true });
    writeFileSync(join(wt.dir, 'lib/.git/config'), '[core]\n\tfsmonitor = /tmp/x.sh\n');
    writeFileSync(join(wt.dir, 'ok.js'), 'ok\n');
    const paths = ['sub/HEAD', 'sub/config', 'sub/objects/info/packs', 'sub/refs/heads/main', 'lib/.git/config', 'ok.js'];
    const { commit, issues } = await commitPaths(wt, paths, 'db-worker: repo\n', identity);
    const files = gitIn(dir, 'ls-tree', '-r', '--name-only', commit).split('\n');
    expect(files).toContain('ok.js');
    expect(files.filter((f) => f.startsWith('sub/') || f.startsWith('lib/'))).toEqual([]);
    expect(issues).toHaveLength(2);
    expect(issues[0]).toMatch(/^sub is a git repository inside the project \(HEAD, objects\/ and refs\/\): its 4 file\(s\) \(sub\/HEAD/);
    expect(issues[1]).toMatch(/^lib\/\.git is a git repository inside the project \(a \.git entry\)/);
  });

  it('commits only deletions of tracked files that are gone; a folder, a path beyond a symlink, a file still there are ignored with an issue', async () => {
    const { dir, wt } = await setup();
    rmSync(join(wt.dir, 'src/db.js'));
    symlinkSync(join(wt.dir, 'src'), join(wt.dir, 'lnk'));
    const deleted = ['src/db.js', 'lnk/app.js', 'src', 'package.json', '../outside', 'never.js'];
    const { commit, issues } = await commitPaths(wt, [], 'db-worker: rm\n', identity, deleted);
    const files = gitIn(dir, 'ls-tree', '-r', '--name-only', commit).split('\n');
    expect(files).not.toContain('src/db.js');
    expect(files).toContain('src/app.js');
    expect(files).toContain('package.json');
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(/^deletions ignored: lnk\/app\.js \(not a tracked file at [0-9a-f]{12}\), src \(not a tracked file/);
    expect(issues[0]).toContain('package.json (still in the worktree)');
    expect(issues[0]).toContain('../outside (not a tracked file');
  });

  it('stages a symlink as its link text and an executable with its mode, and never reads through a symlinked folder', async () => {
    const { dir, wt } = await setup();
    const outside = realpathSync(mkdtempSync(join(tmpdir(), 'orch-outside-')));
    writeFileSync(join(outside, 'secret.txt'), 'HOST-SECRET\n');
    symlinkSync(outside, join(wt.dir, 'out'));
    symlinkSync('src/app.js', join(wt.dir, 'link.js'));
    writeFileSync(join(wt.dir, 'run.sh'), '#!/bin/sh\n', { mode: 0o755 });
    const { commit, issues } = await commitPaths(wt, ['out/secret.txt', 'link.js', 'run.sh'], 'db-worker: modes\n', identity);
    const tree = gitIn(dir, 'ls-tree', '-r', commit);
    expect(tree).toMatch(/^120000 blob \S+\tlink\.js$/m);
    expect(tree).toMatch(/^100755 blob \S+\trun\.sh$/m);
    expect(tree).not.toContain('secret.txt');
    expect(gitIn(dir, 'cat-file', '-p', `${commit}:link.js`)).toBe('src/app.js');
    expect(issues).toEqual([]);
  });
});
