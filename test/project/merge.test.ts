import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mergeIntoProject } from '../../src/git/merge.ts';
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
});
