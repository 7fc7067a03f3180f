import { mkdir, realpath, rename, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { WorkspaceEscapeError } from '../../src/workers/errors.ts';
import { Workspace } from '../../src/workers/workspace.ts';
import { sandbox, tempDir } from './fixtures.ts';

describe('Workspace', () => {
  it('creates a missing root and keeps its real path', async () => {
    const dir = await tempDir();
    await mkdir(path.join(dir, 'real'));
    await symlink(path.join(dir, 'real'), path.join(dir, 'link'));
    const ws = await Workspace.open(path.join(dir, 'link', 'a', 'b'));
    expect(ws.root).toBe(path.join(await realpath(dir), 'real', 'a', 'b'));
  });

  it('opens more task folders under a folder it has seen with the same real paths realpath gives', async () => {
    const dir = await realpath(await tempDir());
    await mkdir(path.join(dir, 'real'));
    await symlink(path.join(dir, 'real'), path.join(dir, 'link'));
    await mkdir(path.join(dir, 'outside'));
    await symlink(path.join(dir, 'outside'), path.join(dir, 'real', 'swapped'));
    await writeFile(path.join(dir, 'real', 'file'), '');
    const open = async (name: string) => (await Workspace.open(path.join(dir, 'link', name))).root;
    expect(await open('first')).toBe(path.join(dir, 'real', 'first')); // the parent's real path is learnt here
    expect(await open('second')).toBe(path.join(dir, 'real', 'second')); // created, under the remembered real parent
    expect((await stat(path.join(dir, 'real', 'second'))).isDirectory()).toBe(true);
    expect(await open('second')).toBe(path.join(dir, 'real', 'second')); // existing
    expect(await open('swapped')).toBe(path.join(dir, 'outside')); // a task folder that is a link: followed, as realpath does
    expect(await open('file')).toBe(path.join(dir, 'real', 'file'));
    // The real parent moved and the link follows it: the remembered path is not the same folder any more.
    await rename(path.join(dir, 'real'), path.join(dir, 'moved'));
    await mkdir(path.join(dir, 'real'));
    await mkdir(path.join(dir, 'real', 'second'));
    await unlink(path.join(dir, 'link'));
    await symlink(path.join(dir, 'moved'), path.join(dir, 'link'));
    expect(await open('second')).toBe(path.join(dir, 'moved', 'second'));
    expect(await open('third')).toBe(path.join(dir, 'moved', 'third'));
    expect((await stat(path.join(dir, 'moved', 'third'))).isDirectory()).toBe(true);
    await expect(stat(path.join(dir, 'real', 'third'))).rejects.toThrow(/ENOENT/);
  });

  it('creates a task folder under a real parent it has seen, and still follows one that is a link', async () => {
    const dir = await realpath(await tempDir());
    await mkdir(path.join(dir, 'elsewhere'));
    expect((await Workspace.open(path.join(dir, 'one'))).root).toBe(path.join(dir, 'one'));
    expect((await Workspace.open(path.join(dir, 'two'))).root).toBe(path.join(dir, 'two'));
    expect((await stat(path.join(dir, 'two'))).isDirectory()).toBe(true);
    await symlink(path.join(dir, 'elsewhere'), path.join(dir, 'three'));
    expect((await Workspace.open(path.join(dir, 'three'))).root).toBe(path.join(dir, 'elsewhere'));
  });

  it('resolves relative and absolute paths inside the root, existing or not', async () => {
    const { workspace } = await sandbox();
    expect(await workspace.resolve('src/new/file.js')).toBe(path.join(workspace.root, 'src/new/file.js'));
    expect(await workspace.resolve(path.join(workspace.root, 'x.txt'))).toBe(path.join(workspace.root, 'x.txt'));
    expect(await workspace.resolve('.')).toBe(workspace.root);
    expect(await workspace.resolve('a/../b.txt')).toBe(path.join(workspace.root, 'b.txt'));
  });

  it('refuses .. that climbs out of the root', async () => {
    const { workspace } = await sandbox();
    await expect(workspace.resolve('../outside/x.txt')).rejects.toBeInstanceOf(WorkspaceEscapeError);
    await expect(workspace.resolve('src/../../x.txt')).rejects.toThrow(/climbs out/);
  });

  it('refuses absolute paths outside the root, including a sibling sharing its prefix', async () => {
    const { workspace } = await sandbox();
    await expect(workspace.resolve('/etc/passwd')).rejects.toBeInstanceOf(WorkspaceEscapeError);
    await expect(workspace.resolve(`${workspace.root}-evil/x`)).rejects.toBeInstanceOf(WorkspaceEscapeError);
  });

  it('refuses a symlinked folder that leads outside, for existing and new files under it', async () => {
    const { workspace, outside } = await sandbox();
    await mkdir(outside);
    await writeFile(path.join(outside, 'secret.txt'), 'secret');
    await symlink(outside, path.join(workspace.root, 'escape'));
    await expect(workspace.resolve('escape/secret.txt')).rejects.toThrow(/symlink leads to/);
    await expect(workspace.resolve('escape/new/file.txt')).rejects.toBeInstanceOf(WorkspaceEscapeError);
  });

  it('refuses a dangling symlink whose target would be created outside', async () => {
    const { workspace, outside } = await sandbox();
    await symlink(path.join(outside, 'later.txt'), path.join(workspace.root, 'dangling.txt'));
    await expect(workspace.resolve('dangling.txt')).rejects.toBeInstanceOf(WorkspaceEscapeError);
  });

  it('refuses a relative symlink chain that climbs out', async () => {
    const { workspace } = await sandbox();
    await mkdir(path.join(workspace.root, 'deep'));
    await symlink('../..', path.join(workspace.root, 'deep', 'up'));
    await expect(workspace.resolve('deep/up/outside.txt')).rejects.toBeInstanceOf(WorkspaceEscapeError);
  });

  it('follows symlinks that stay inside to their real path', async () => {
    const { workspace } = await sandbox();
    await mkdir(path.join(workspace.root, 'real'));
    await symlink('real', path.join(workspace.root, 'alias'));
    expect(await workspace.resolve('alias/f.txt')).toBe(path.join(workspace.root, 'real', 'f.txt'));
  });

  it('refuses symlink loops with a clear reason', async () => {
    const { workspace } = await sandbox();
    await symlink('b', path.join(workspace.root, 'a'));
    await symlink('a', path.join(workspace.root, 'b'));
    await expect(workspace.resolve('a/x')).rejects.toThrow(/loop/);
  });
});
