import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { editTool } from '../../src/workers/tools/edit.ts';
import { openDirect, openInWorkspace, readAll } from '../../src/workers/tools/openInside.ts';
import { readTool } from '../../src/workers/tools/read.ts';
import { writeTool } from '../../src/workers/tools/write.ts';
import { sandbox, tempDir, toolContext } from './fixtures.ts';

describe('openDirect (the path as given, no link on it)', () => {
  it('opens a plain path, creating the folders of a Write, and leaves every link to the long way', async () => {
    const { workspace } = await sandbox();
    const root = workspace.root;
    const made = openDirect(root, 'src/models/user.js', 'write', 'src/models/user.js');
    expect(made).toMatchObject({ created: true, size: 0 });
    closeSync(made!.fd);
    expect(readFileSync(path.join(root, 'src/models/user.js'), 'utf8')).toBe('');
    await mkdir(path.join(root, 'real'));
    await writeFile(path.join(root, 'real', 'f.txt'), 'x');
    await symlink('real', path.join(root, 'dirlink'));
    await symlink('real/f.txt', path.join(root, 'filelink.txt'));
    // A link as a folder or as the file itself: undefined, nothing opened or created.
    expect(openDirect(root, 'dirlink/f.txt', 'read', 'dirlink/f.txt')).toBeUndefined();
    expect(openDirect(root, 'dirlink/new.txt', 'write', 'dirlink/new.txt')).toBeUndefined();
    expect(openDirect(root, 'filelink.txt', 'write', 'filelink.txt')).toBeUndefined();
    expect(openDirect(root, 'filelink.txt', 'edit', 'filelink.txt')).toBeUndefined();
    expect(openDirect(path.join(root, 'dirlink'), 'f.txt', 'read', 'f.txt')).toBeUndefined(); // the root itself a link
    expect(readFileSync(path.join(root, 'real', 'f.txt'), 'utf8')).toBe('x');
    const existing = openDirect(root, 'real/f.txt', 'write', 'real/f.txt');
    expect(existing).toMatchObject({ created: false, size: 1 });
    closeSync(existing!.fd);
  });

  it('creates every missing folder of a deep path, and leaves Error.stackTraceLimit as it was', async () => {
    const { workspace } = await sandbox();
    await mkdir(path.join(workspace.root, 'a'));
    const limit = Error.stackTraceLimit;
    const ctx = toolContext(workspace);
    expect(await writeTool.run({ file_path: 'a/b/c/d/e.txt', content: 'deep' }, ctx)).toBe('Created a/b/c/d/e.txt (4 bytes)');
    expect(await writeTool.run({ file_path: 'a/b/c/d/e.txt', content: 'again' }, ctx)).toBe('Overwrote a/b/c/d/e.txt (5 bytes)');
    await expect(readTool.run({ file_path: 'a/x/y.txt' }, ctx)).rejects.toThrow(/does not exist/);
    expect(readFileSync(path.join(workspace.root, 'a/b/c/d/e.txt'), 'utf8')).toBe('again');
    expect(Error.stackTraceLimit).toBe(limit);
  });

  it('a link inside the workspace still works, through the long way, and shows the real path', async () => {
    const { workspace } = await sandbox();
    await mkdir(path.join(workspace.root, 'real'));
    await symlink('real', path.join(workspace.root, 'alias'));
    await writeFile(path.join(workspace.root, 'real', 'a.txt'), 'one\n');
    await symlink('real/a.txt', path.join(workspace.root, 'a-link.txt'));
    const ctx = toolContext(workspace);
    expect(await writeTool.run({ file_path: 'alias/b.txt', content: 'two\n' }, ctx)).toBe('Created real/b.txt (4 bytes)');
    expect(await readTool.run({ file_path: 'alias/b.txt' }, ctx)).toBe('     1\ttwo');
    expect(await editTool.run({ file_path: 'a-link.txt', old_string: 'one', new_string: 'uno' }, ctx)).toBe('Edited real/a.txt: replaced 1 occurrence');
    expect(readFileSync(path.join(workspace.root, 'real', 'a.txt'), 'utf8')).toBe('uno\n');
    expect(ctx.changes.snapshot()).toEqual({ created: ['real/b.txt'], modified: ['real/a.txt'], deleted: [] });
  });

  it('overwrites an existing file whole, and refuses folders and missing files with the same messages as before', async () => {
    const { workspace } = await sandbox();
    await mkdir(path.join(workspace.root, 'src', 'dir'), { recursive: true });
    await writeFile(path.join(workspace.root, 'src', 'long.txt'), 'a long first version\n');
    await symlink('src', path.join(workspace.root, 'srclink'));
    const ctx = toolContext(workspace);
    expect(await writeTool.run({ file_path: 'src/long.txt', content: 'short' }, ctx)).toBe('Overwrote src/long.txt (5 bytes)');
    expect(readFileSync(path.join(workspace.root, 'src', 'long.txt'), 'utf8')).toBe('short');
    for (const file_path of ['src/dir', 'srclink/dir']) {
      await expect(writeTool.run({ file_path, content: 'x' }, ctx)).rejects.toThrow('src/dir is a directory: write to a file inside it');
      await expect(readTool.run({ file_path }, ctx)).rejects.toThrow('src/dir is a directory: list it with Glob');
    }
    for (const file_path of ['src/nope/a.txt', 'nope/a.txt', 'src/nope.txt']) {
      await expect(readTool.run({ file_path }, ctx)).rejects.toThrow(`${file_path} does not exist: find files with Glob`);
      await expect(editTool.run({ file_path, old_string: 'a', new_string: 'b' }, ctx)).rejects.toThrow(`${file_path} does not exist`);
    }
    // A Read or Edit of a missing file creates no folder on the way.
    expect(() => openInWorkspace(workspace, 'src/nope/a.txt', 'read')).toThrow(/does not exist/);
    await expect(readTool.run({ file_path: 'src/nope' }, ctx)).rejects.toThrow(/does not exist/);
    expect(ctx.changes.snapshot()).toEqual({ created: [], modified: ['src/long.txt'], deleted: [] });
  });

  it('refuses a FIFO before opening it, for every tool, without blocking', async () => {
    const { workspace } = await sandbox();
    await mkdir(path.join(workspace.root, 'd'));
    execFileSync('mkfifo', [path.join(workspace.root, 'd', 'fifo')]);
    const ctx = toolContext(workspace);
    await expect(writeTool.run({ file_path: 'd/fifo', content: 'x' }, ctx)).rejects.toThrow('d/fifo is a FIFO');
    await expect(readTool.run({ file_path: 'd/fifo' }, ctx)).rejects.toThrow('d/fifo is a FIFO');
    await expect(editTool.run({ file_path: 'd/fifo', old_string: 'a', new_string: 'b' }, ctx)).rejects.toThrow('d/fifo is a FIFO');
  });
});

describe('readAll', () => {
  it('reads the whole file whatever size fstat said: unchanged, grown, shrunk, empty, past 64 KiB, capped at max', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'f');
    const read = (content: string | Buffer, size: number, max = 1 << 20): string => {
      writeFileSync(file, content);
      const fd = openSync(file, 'r');
      try {
        return readAll(fd, size, max).toString('latin1');
      } finally {
        closeSync(fd);
      }
    };
    expect(read('hello', 5)).toBe('hello');
    expect(read('hello world', 5)).toBe('hello world'); // grew after the fstat
    expect(read('hi', 5)).toBe('hi'); // shrank
    expect(read('', 0)).toBe('');
    const big = 'x'.repeat(200_000) + 'end';
    expect(read(big, big.length)).toBe(big);
    expect(read(big, 10)).toBe(big);
    expect(read(big, big.length, 1000)).toBe('x'.repeat(1000));
  });
});
