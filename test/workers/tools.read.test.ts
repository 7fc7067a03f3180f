import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readTool } from '../../src/workers/tools/read.ts';
import { sandbox, toolContext } from './fixtures.ts';

describe('Read tool', () => {
  it('returns numbered lines, with offset and limit', async () => {
    const { workspace } = await sandbox();
    await writeFile(path.join(workspace.root, 'a.txt'), 'one\ntwo\nthree\nfour\n');
    const ctx = toolContext(workspace);
    expect(await readTool.run({ file_path: 'a.txt' }, ctx)).toBe('     1\tone\n     2\ttwo\n     3\tthree\n     4\tfour');
    const part = await readTool.run({ file_path: path.join(workspace.root, 'a.txt'), offset: 2, limit: 2 }, ctx);
    expect(part).toBe('     2\ttwo\n     3\tthree\n… 1 more lines: read on with offset 4');
  });

  it('refuses files outside the workspace, and says what to do about missing files and folders', async () => {
    const { workspace, outside } = await sandbox();
    await mkdir(outside);
    await writeFile(path.join(outside, 'secret.txt'), 'secret');
    await mkdir(path.join(workspace.root, 'src'));
    const ctx = toolContext(workspace);
    await expect(readTool.run({ file_path: '../outside/secret.txt' }, ctx)).rejects.toThrow(/outside the workspace/);
    await expect(readTool.run({ file_path: 'nope.txt' }, ctx)).rejects.toThrow(/does not exist: find files with Glob/);
    await expect(readTool.run({ file_path: 'src' }, ctx)).rejects.toThrow(/is a directory/);
  });

  it('rejects input that does not match its schema', async () => {
    const { workspace } = await sandbox();
    await expect(readTool.run({ path: 'a.txt' }, toolContext(workspace))).rejects.toThrow(/invalid input for Read: .*file_path/);
    await expect(readTool.run({ file_path: 'a.txt', offset: 0 }, toolContext(workspace))).rejects.toThrow(/offset/);
  });
});
