import { existsSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openGitProject } from '../../src/git/project.ts';
import { commitPaths, openWorktree, removeWorktree } from '../../src/git/worktree.ts';
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
    const sha = await commitPaths(wt, ['mine.js', '.env', 'src/db.js', 'never-existed.js'], 'db-worker: test\n', identity);
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
    const sha = await commitPaths(wt, ['a.js', '.git'], 'api-worker: a\n', identity);
    expect(gitIn(dir, 'rev-parse', 'backend/task-1')).toBe(sha);
    expect(gitIn(dir, 'rev-parse', 'main')).toBe(before);
    expect(gitIn(dir, 'status', '--porcelain')).toBe('');
  });

  it('reopened after a crash, resets to the recorded commit and drops what was not committed; removal keeps the branch', async () => {
    const { dir, project, wt } = await setup();
    writeFileSync(join(wt.dir, 'done.js'), 'done\n');
    const recorded = await commitPaths(wt, ['done.js'], 'db-worker: done\n', identity);
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
