import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { WorkspaceEscapeError } from '../../src/workers/errors.ts';
import { writeTool } from '../../src/workers/tools/write.ts';
import { sandbox, toolContext } from './fixtures.ts';

describe('Write tool', () => {
  it('creates files with their folders and records created vs modified', async () => {
    const { workspace } = await sandbox();
    await writeFile(path.join(workspace.root, 'existing.txt'), 'old');
    const ctx = toolContext(workspace);
    expect(await writeTool.run({ file_path: 'src/models/user.js', content: 'export {};\n' }, ctx)).toMatch(/^Created src\/models\/user.js/);
    expect(await writeTool.run({ file_path: 'existing.txt', content: 'new' }, ctx)).toMatch(/^Overwrote existing.txt/);
    expect(await readFile(path.join(workspace.root, 'src/models/user.js'), 'utf8')).toBe('export {};\n');
    expect(ctx.changes.snapshot()).toEqual({ created: ['src/models/user.js'], modified: ['existing.txt'], deleted: [] });
  });

  it('writes nothing outside: .., absolute paths and symlinks are refused', async () => {
    const { workspace, outside } = await sandbox();
    await mkdir(outside);
    await symlink(outside, path.join(workspace.root, 'link'));
    await symlink(path.join(outside, 'target.txt'), path.join(workspace.root, 'dangling.txt'));
    const ctx = toolContext(workspace);
    for (const file_path of ['../outside/a.txt', path.join(outside, 'b.txt'), 'link/c.txt', 'dangling.txt']) {
      await expect(writeTool.run({ file_path, content: 'x' }, ctx)).rejects.toBeInstanceOf(WorkspaceEscapeError);
    }
    expect(await readdir(outside)).toEqual([]);
    expect(ctx.changes.snapshot().created).toEqual([]);
  });
});
