import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { WorkspaceEscapeError } from '../../src/workers/errors.ts';
import { editTool } from '../../src/workers/tools/edit.ts';
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

  // A real failing write, as on a full disk: RLIMIT_FSIZE makes write(2) fail with EFBIG past the limit
  // (Node ignores SIGXFSZ). Lowered for this process only while the tools run.
  it.runIf(process.platform === 'linux')('a write the system refuses (file-size limit, as a full disk) is not recorded, and leaves no new file behind', async () => {
    const { workspace } = await sandbox();
    await writeFile(path.join(workspace.root, 'existing.txt'), 'old');
    await writeFile(path.join(workspace.root, 'edited.txt'), 'hello');
    const ctx = toolContext(workspace);
    const big = 'x'.repeat(64 * 1024);
    execFileSync('prlimit', ['--pid', String(process.pid), '--fsize=4096:']);
    let errors: unknown[];
    try {
      errors = await Promise.all([
        writeTool.run({ file_path: 'src/new.js', content: big }, ctx).catch((e: unknown) => e),
        writeTool.run({ file_path: 'existing.txt', content: big }, ctx).catch((e: unknown) => e),
        editTool.run({ file_path: 'edited.txt', old_string: 'hello', new_string: big }, ctx).catch((e: unknown) => e),
      ]);
    } finally {
      execFileSync('prlimit', ['--pid', String(process.pid), '--fsize=unlimited:']);
    }
    expect(String(errors[0])).toMatch(/could not write src\/new\.js \(.*file too large.*\): nothing was written/i);
    expect(String(errors[1])).toMatch(/could not write existing\.txt .*may be left truncated/);
    expect(String(errors[2])).toMatch(/could not write edited\.txt .*may be left truncated; write it whole again/);
    expect(existsSync(path.join(workspace.root, 'src/new.js'))).toBe(false);
    expect(ctx.changes.snapshot()).toEqual({ created: [], modified: [], deleted: [] });
  });
});
