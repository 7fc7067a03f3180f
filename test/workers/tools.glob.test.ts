import { mkdir, symlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { globTool } from '../../src/workers/tools/glob.ts';
import { sandbox, toolContext } from './fixtures.ts';

describe('Glob tool', () => {
  it('lists matching files relative to the root, newest first, skipping node_modules', async () => {
    const { workspace } = await sandbox();
    const at = (rel: string) => path.join(workspace.root, rel);
    await mkdir(at('src/models'), { recursive: true });
    await mkdir(at('node_modules/x'), { recursive: true });
    await writeFile(at('src/models/old.js'), '');
    await writeFile(at('src/models/new.js'), '');
    await writeFile(at('node_modules/x/index.js'), '');
    await utimes(at('src/models/old.js'), 1000, 1000);
    const out = await globTool.run({ pattern: '**/*.js' }, toolContext(workspace));
    expect(out.split('\n')).toEqual(['src/models/new.js', 'src/models/old.js']);
    expect(await globTool.run({ pattern: '*.js', path: 'src/models' }, toolContext(workspace))).toContain('src/models/old.js');
  });

  it('refuses patterns and folders that lead outside, and does not follow symlinked folders', async () => {
    const { workspace, outside } = await sandbox();
    await mkdir(outside);
    await writeFile(path.join(outside, 'secret.js'), '');
    await symlink(outside, path.join(workspace.root, 'link'));
    const ctx = toolContext(workspace);
    await expect(globTool.run({ pattern: '../outside/*.js' }, ctx)).rejects.toThrow(/outside the workspace/);
    await expect(globTool.run({ pattern: '*.js', path: '..' }, ctx)).rejects.toThrow(/outside the workspace/);
    expect(await globTool.run({ pattern: '**/*.js' }, ctx)).toBe('No files match **/*.js');
  });

  it('finds exact files asked for in one brace set, and a set member with .. still finds nothing outside', async () => {
    const { workspace, outside } = await sandbox();
    const at = (rel: string) => path.join(workspace.root, rel);
    await mkdir(at('src/routes'), { recursive: true });
    await mkdir(at('lib/0'), { recursive: true });
    await mkdir(outside);
    await writeFile(path.join(outside, 'secret.js'), '');
    for (const f of ['package.json', 'src/app.js', 'src/routes/users.js', 'lib/0/m4.js']) await writeFile(at(f), '');
    const ctx = toolContext(workspace);
    const out = await globTool.run({ pattern: '{package.json,src/{app,db}.js,src/routes/users.js,src/models/user.js}' }, ctx);
    expect(out.split('\n').sort()).toEqual(['package.json', 'src/app.js', 'src/routes/users.js']);
    expect(await globTool.run({ pattern: '{..,src}/*.js' }, ctx)).not.toMatch(/secret/);
  });
});
