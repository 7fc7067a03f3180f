import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { sandbox } from './fixtures.ts';

describe('Workspace.locate', () => {
  it('says what is there and whether its folder exists, as a tool needs before writing', async () => {
    const { workspace } = await sandbox();
    await mkdir(path.join(workspace.root, 'src'));
    await writeFile(path.join(workspace.root, 'src', 'a.js'), 'x');
    const file = workspace.locate('src/a.js');
    expect(file).toMatchObject({ path: path.join(workspace.root, 'src', 'a.js'), parentExists: true });
    expect(file.stats?.isFile()).toBe(true);
    expect(workspace.locate('src/new.js')).toMatchObject({ stats: undefined, parentExists: true });
    expect(workspace.locate('src/models/new.js')).toMatchObject({ stats: undefined, parentExists: false });
    expect(workspace.locate('src').stats?.isDirectory()).toBe(true);
    expect(workspace.locate('.').stats?.isDirectory()).toBe(true);
  });

  it('gives the stats of where links lead, also through a link that ends in ..', async () => {
    const { workspace } = await sandbox();
    await mkdir(path.join(workspace.root, 'real', 'deep'), { recursive: true });
    await writeFile(path.join(workspace.root, 'real', 'f.txt'), 'x');
    await symlink('real/f.txt', path.join(workspace.root, 'alias.txt'));
    await symlink('..', path.join(workspace.root, 'real', 'deep', 'up'));
    const alias = workspace.locate('alias.txt');
    expect(alias.path).toBe(path.join(workspace.root, 'real', 'f.txt'));
    expect(alias.stats?.isFile()).toBe(true);
    const up = workspace.locate('real/deep/up');
    expect(up.path).toBe(path.join(workspace.root, 'real'));
    expect(up.stats?.isDirectory()).toBe(true);
  });
});
