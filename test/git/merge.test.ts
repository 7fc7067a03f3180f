import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { INTENT_FILE, mergeIntoProject, recoverProjectUpdate } from '../../src/git/merge.ts';
import { openGitProject } from '../../src/git/project.ts';
import { gitIn, sampleProject } from '../support/project.ts';

const identity = { name: 'Merger', email: 'merger@example.com' };

/** A project with a task branch `task` holding one commit that writes `file`. */
async function withTaskBranch(file: string, content: string) {
  const dir = await sampleProject();
  gitIn(dir, 'switch', '-q', '-c', 'task');
  writeFileSync(join(dir, file), content);
  gitIn(dir, 'add', '-A');
  gitIn(dir, 'commit', '-qm', 'task work');
  const tip = gitIn(dir, 'rev-parse', 'HEAD');
  gitIn(dir, 'switch', '-q', 'main');
  return { dir, tip, project: await openGitProject(dir) };
}

const merge = (project: Awaited<ReturnType<typeof openGitProject>>) =>
  mergeIntoProject(project, { ref: 'refs/heads/task', message: 'Merge task\n', identity });

describe('mergeIntoProject', () => {
  it('fast-forwards when the project branch has not moved, updates the checkout, and knows it on a second call', async () => {
    const { dir, tip, project } = await withTaskBranch('src/new.js', 'new\n');
    expect(await merge(project)).toEqual({ kind: 'merged', sha: tip, fastForward: true });
    expect(gitIn(dir, 'rev-parse', 'main')).toBe(tip);
    expect(gitIn(dir, 'show', 'HEAD:src/new.js')).toBe('new');
    expect(gitIn(dir, 'status', '--porcelain')).toBe('');
    // Later commits on main do not confuse where the task entered it.
    writeFileSync(join(dir, 'later.txt'), 'later\n');
    gitIn(dir, 'add', '-A');
    gitIn(dir, 'commit', '-qm', 'later');
    expect(await merge(project)).toEqual({ kind: 'already', sha: tip });
  });

  it('builds a merge commit by the configured identity when both moved, without rewriting main, and finds it again', async () => {
    const { dir, tip, project } = await withTaskBranch('src/new.js', 'new\n');
    writeFileSync(join(dir, 'README.md'), 'main moved\n');
    gitIn(dir, 'add', '-A');
    gitIn(dir, 'commit', '-qm', 'main moved');
    const before = gitIn(dir, 'rev-parse', 'main');
    const result = await merge(project);
    expect(result.kind).toBe('merged');
    const sha = (result as { sha: string }).sha;
    expect(gitIn(dir, 'rev-parse', `${sha}^1`)).toBe(before);
    expect(gitIn(dir, 'rev-parse', `${sha}^2`)).toBe(tip);
    expect(gitIn(dir, 'log', '-1', '--format=%an|%cn', sha)).toBe('Merger|Merger');
    expect(gitIn(dir, 'rev-parse', 'main')).toBe(sha);
    expect(gitIn(dir, 'status', '--porcelain')).toBe('');
    expect(await merge(project)).toEqual({ kind: 'already', sha });
  });

  it('reports conflicting files and changes nothing', async () => {
    const { dir, project } = await withTaskBranch('src/app.js', 'task side\n');
    writeFileSync(join(dir, 'src/app.js'), 'main side\n');
    gitIn(dir, 'commit', '-qam', 'main side');
    const before = gitIn(dir, 'rev-parse', 'main');
    expect(await merge(project)).toEqual({ kind: 'conflict', files: ['src/app.js'] });
    expect(gitIn(dir, 'rev-parse', 'main')).toBe(before);
    expect(gitIn(dir, 'status', '--porcelain')).toBe('');
  });

  it('leaves the branch alone while tracked files are changed, and merges by update-ref when main is not checked out', async () => {
    const { dir, tip, project } = await withTaskBranch('src/new.js', 'new\n');
    writeFileSync(join(dir, 'src/app.js'), 'edited\n');
    const refused = await merge(project);
    expect(refused.kind).toBe('refused');
    expect((refused as { reason: string }).reason).toMatch(/uncommitted changes \(src\/app\.js\)/);
    expect(gitIn(dir, 'rev-parse', 'main')).not.toBe(tip);
    // Someone switched to another branch and keeps their edit: main still moves, their checkout does not.
    gitIn(dir, 'switch', '-q', '-c', 'elsewhere');
    expect(await merge(project)).toEqual({ kind: 'merged', sha: tip, fastForward: true });
    expect(gitIn(dir, 'rev-parse', 'main')).toBe(tip);
    expect(gitIn(dir, 'status', '--porcelain')).toBe('M src/app.js');
  });

  it('refuses, moving nothing, when an untracked file is in the way, and says which', async () => {
    const { dir, project } = await withTaskBranch('src/new.js', 'new\n');
    const before = gitIn(dir, 'rev-parse', 'main');
    writeFileSync(join(dir, 'src/new.js'), 'mine, not committed\n');
    const refused = await merge(project);
    expect(refused.kind).toBe('refused');
    expect((refused as { reason: string }).reason).toMatch(/src\/new\.js/);
    expect(gitIn(dir, 'rev-parse', 'main')).toBe(before);
    expect(readFileSync(join(dir, 'src/new.js'), 'utf8')).toBe('mine, not committed\n');
    expect(existsSync(join(project.gitDir, INTENT_FILE))).toBe(false);
  });
});

describe('recoverProjectUpdate (an update of the project folder a kill interrupted)', () => {
  /** A task branch that adds, changes and deletes files, and the intent an update to it would have written. */
  async function interrupted() {
    const dir = await sampleProject();
    const from = gitIn(dir, 'rev-parse', 'main');
    gitIn(dir, 'switch', '-q', '-c', 'task');
    writeFileSync(join(dir, 'src/new.js'), 'new\n');
    writeFileSync(join(dir, 'src/app.js'), 'changed\n');
    rmSync(join(dir, 'src/db.js'));
    gitIn(dir, 'add', '-A');
    gitIn(dir, 'commit', '-qm', 'task work');
    const to = gitIn(dir, 'rev-parse', 'HEAD');
    gitIn(dir, 'switch', '-q', 'main');
    const project = await openGitProject(dir);
    const intent = { ref: 'refs/heads/main', from, to, at: Date.now(), pid: 1 };
    writeFileSync(join(project.gitDir, INTENT_FILE), JSON.stringify(intent));
    return { dir, from, to, project };
  }

  it('without a record, does nothing', async () => {
    const dir = await sampleProject();
    expect(await recoverProjectUpdate(await openGitProject(dir))).toBeUndefined();
  });

  it('killed before the branch moved: the folder was left as before, the record goes', async () => {
    const { dir, from, project } = await interrupted();
    writeFileSync(join(project.commonDir, 'refs/heads/main.lock'), ''); // update-ref killed holding its lock
    expect(await recoverProjectUpdate(project)).toMatch(/interrupted before main moved: the project folder was left as before \(removed the killed git's main\.lock\)/);
    expect(gitIn(dir, 'rev-parse', 'main')).toBe(from);
    expect(gitIn(dir, 'status', '--porcelain')).toBe('');
    expect(existsSync(join(project.gitDir, INTENT_FILE))).toBe(false);
    expect(existsSync(join(project.commonDir, 'refs/heads/main.lock'))).toBe(false);
  });

  it('killed after the branch moved, before or while the files were written: completes the update from the record', async () => {
    const { dir, to, project } = await interrupted();
    gitIn(dir, 'update-ref', 'refs/heads/main', to);
    // read-tree killed half-way: one file written, one half-written, the index still the old one and its lock left.
    writeFileSync(join(dir, 'src/new.js'), 'new\n');
    writeFileSync(join(dir, 'src/app.js'), 'cha');
    writeFileSync(join(project.gitDir, 'index.lock'), 'partial');
    expect(gitIn(dir, 'status', '--porcelain', '--untracked-files=no')).not.toBe('');
    expect(await recoverProjectUpdate(project)).toMatch(/completed an interrupted update of main \([0-9a-f]{12}\.\.[0-9a-f]{12}\) in the project folder: 3 file\(s\) brought to [0-9a-f]{12} \(removed the killed git's index\.lock\)/);
    expect(gitIn(dir, 'rev-parse', 'HEAD')).toBe(to);
    expect(gitIn(dir, 'status', '--porcelain')).toBe('');
    expect(readFileSync(join(dir, 'src/app.js'), 'utf8')).toBe('changed\n');
    expect(existsSync(join(dir, 'src/db.js'))).toBe(false);
    expect(existsSync(join(project.gitDir, INTENT_FILE))).toBe(false);
    // The next merge finds nothing in the way.
    expect(await recoverProjectUpdate(project)).toBeUndefined();
  });

  it('killed after the files were written, before the record went: nothing left to do, and the user\'s other edits stay', async () => {
    const { dir, from, to, project } = await interrupted();
    gitIn(dir, 'update-ref', 'refs/heads/main', to);
    gitIn(dir, 'read-tree', '-m', '-u', from, to);
    writeFileSync(join(dir, 'package.json'), 'my own edit\n');
    expect(await recoverProjectUpdate(project)).toMatch(/interrupted after it was done: nothing left to do/);
    expect(gitIn(dir, 'status', '--porcelain')).toBe('M package.json');
  });

  it('leaves the folder alone when the branch moved elsewhere since', async () => {
    const { dir, project } = await interrupted();
    gitIn(dir, 'commit', '-q', '--allow-empty', '-m', 'someone else');
    expect(await recoverProjectUpdate(project)).toMatch(/main or the checkout has changed since .*: left as it is/);
    expect(gitIn(dir, 'status', '--porcelain')).toBe('');
  });

  it('merging finishes an interrupted update first, then merges', async () => {
    const { dir, to, project } = await interrupted();
    gitIn(dir, 'update-ref', 'refs/heads/main', to);
    const lines: string[] = [];
    expect(await mergeIntoProject(project, { ref: 'refs/heads/task', message: 'Merge task\n', identity, onRecovered: (l) => lines.push(l) })).toEqual({ kind: 'already', sha: to });
    expect(lines).toHaveLength(1);
    expect(gitIn(dir, 'status', '--porcelain')).toBe('');
  });
});
