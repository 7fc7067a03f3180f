import { mkdirSync, mkdtempSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { filesBetween, filesOfCommit } from '../../src/git/commitFiles.ts';
import { openGitProject } from '../../src/git/project.ts';
import { commitPaths, openWorktree } from '../../src/git/worktree.ts';
import { gitIn, sampleProject } from '../support/project.ts';

const identity = { name: 'Bot', email: 'bot@example.com' };

/** A repository whose history is one commit per step: `commit(files)` writes (null: removes) then commits everything. */
function repository() {
  const dir = mkdtempSync(join(tmpdir(), 'orch-files-'));
  gitIn(dir, 'init', '-q', '-b', 'main');
  const commit = (files: Record<string, string | null>): string => {
    for (const [file, content] of Object.entries(files)) {
      if (content === null) rmSync(join(dir, file));
      else {
        mkdirSync(join(dir, file, '..'), { recursive: true });
        writeFileSync(join(dir, file), content);
      }
    }
    gitIn(dir, 'add', '-A');
    gitIn(dir, 'commit', '-q', '--allow-empty', '-m', 'step');
    return gitIn(dir, 'rev-parse', 'HEAD');
  };
  return { dir, gitDir: join(dir, '.git'), commit };
}

describe('filesOfCommit / filesBetween', () => {
  it('lists what a commit changed against its parent: created, modified, deleted, and nothing for a file written again unchanged', async () => {
    const r = repository();
    const root = r.commit({ 'a.js': 'a\n', 'b.js': 'b\n', 'same.js': 'same\n', 'dir/gone.js': 'x\n' });
    expect(await filesOfCommit(r.gitDir, root)).toEqual({ created: ['a.js', 'b.js', 'dir/gone.js', 'same.js'], modified: [], deleted: [] });
    const next = r.commit({ 'a.js': 'a changed\n', 'same.js': 'same\n', 'dir/gone.js': null, 'new file.js': 'n\n' });
    expect(await filesOfCommit(r.gitDir, next)).toEqual({ created: ['new file.js'], modified: ['a.js'], deleted: ['dir/gone.js'] });
    // A rename is a deletion and a creation; a file turned into a symlink is modified.
    unlinkSync(join(r.dir, 'b.js'));
    symlinkSync('a.js', join(r.dir, 'b.js'));
    const third = r.commit({ 'c.js': 'a changed\n', 'new file.js': null });
    expect(await filesOfCommit(r.gitDir, third)).toEqual({ created: ['c.js'], modified: ['b.js'], deleted: ['new file.js'] });
    // An empty commit changed nothing.
    expect(await filesOfCommit(r.gitDir, r.commit({ 'same.js': 'same\n' }))).toEqual({ created: [], modified: [], deleted: [] });
    // Over several commits: a file created then removed is in no list.
    expect(await filesBetween(r.gitDir, root, third)).toEqual({ created: ['c.js'], modified: ['a.js', 'b.js'], deleted: ['dir/gone.js'] });
  });

  it("commitPaths reports what its commit changed, not the paths it was asked to commit (a worktree's admin folder as the git folder)", async () => {
    const dir = await sampleProject();
    const project = await openGitProject(dir);
    const wt = await openWorktree(project, { dir: join(mkdtempSync(join(tmpdir(), 'orch-wts-')), 'task-1'), branch: 'backend/task-1' });
    // db.js written again with its own content, app.js really changed, a new file, a removed one.
    writeFileSync(join(wt.dir, 'src/db.js'), gitIn(dir, 'show', 'main:src/db.js') + '\n');
    writeFileSync(join(wt.dir, 'src/app.js'), '// changed\n');
    writeFileSync(join(wt.dir, 'src/new.js'), 'export {};\n');
    rmSync(join(wt.dir, 'src/models/user.js'));
    const outcome = await commitPaths(wt, ['src/db.js', 'src/app.js', 'src/new.js'], 'api-worker: test\n', identity, ['src/models/user.js']);
    expect(outcome.files).toEqual({ created: ['src/new.js'], modified: ['src/app.js'], deleted: ['src/models/user.js'] });
    expect(await filesOfCommit(wt.adminDir, outcome.commit)).toEqual(outcome.files);
    // Written again unchanged and nothing else: an empty commit, and empty lists.
    writeFileSync(join(wt.dir, 'src/app.js'), '// changed\n');
    expect((await commitPaths(wt, ['src/app.js'], 'api-worker: again\n', identity)).files).toEqual({ created: [], modified: [], deleted: [] });
  });
});
