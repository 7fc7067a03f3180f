import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { editTool } from '../../src/workers/tools/edit.ts';
import { writeTool } from '../../src/workers/tools/write.ts';
import { sandbox, toolContext } from './fixtures.ts';

describe('Edit tool', () => {
  it('replaces one exact occurrence, literally ($& stays $&), and records a modification', async () => {
    const { workspace } = await sandbox();
    const file = path.join(workspace.root, 'app.js');
    await writeFile(file, 'const port = 3000;\n');
    const ctx = toolContext(workspace);
    expect(await editTool.run({ file_path: 'app.js', old_string: '3000', new_string: "'$&'" }, ctx)).toMatch(/replaced 1 occurrence/);
    expect(await readFile(file, 'utf8')).toBe("const port = '$&';\n");
    expect(ctx.changes.snapshot().modified).toEqual(['app.js']);
  });

  it('refuses an ambiguous match unless replace_all, and a missing one', async () => {
    const { workspace } = await sandbox();
    const file = path.join(workspace.root, 'a.txt');
    await writeFile(file, 'x x x');
    const ctx = toolContext(workspace);
    await expect(editTool.run({ file_path: 'a.txt', old_string: 'x', new_string: 'y' }, ctx)).rejects.toThrow(/occurs 3 times/);
    await expect(editTool.run({ file_path: 'a.txt', old_string: 'z', new_string: 'y' }, ctx)).rejects.toThrow(/was not found/);
    expect(await editTool.run({ file_path: 'a.txt', old_string: 'x', new_string: 'y', replace_all: true }, ctx)).toMatch(/3 occurrences/);
    expect(await readFile(file, 'utf8')).toBe('y y y');
  });

  it('keeps a file written then edited in the same run as created', async () => {
    const { workspace } = await sandbox();
    const ctx = toolContext(workspace);
    await writeTool.run({ file_path: 'new.js', content: 'a' }, ctx);
    await editTool.run({ file_path: 'new.js', old_string: 'a', new_string: 'b' }, ctx);
    expect(ctx.changes.snapshot()).toEqual({ created: ['new.js'], modified: [], deleted: [] });
  });

  it('refuses paths outside the workspace and no-op edits', async () => {
    const { workspace } = await sandbox();
    const ctx = toolContext(workspace);
    await expect(editTool.run({ file_path: '/etc/hosts', old_string: 'a', new_string: 'b' }, ctx)).rejects.toThrow(/outside the workspace/);
    await expect(editTool.run({ file_path: 'a', old_string: 'a', new_string: 'a' }, ctx)).rejects.toThrow(/the same/);
  });
});
