import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { grepTool } from '../../src/workers/tools/grep.ts';
import { sandbox, toolContext } from './fixtures.ts';

async function project() {
  const { workspace, outside } = await sandbox();
  const at = (rel: string) => path.join(workspace.root, rel);
  await mkdir(at('src/routes'), { recursive: true });
  await writeFile(at('src/routes/users.js'), "router.get('/users')\nrouter.post('/users')\n");
  await writeFile(at('src/app.ts'), "app.use(Router())\n");
  await writeFile(at('logo.png'), Buffer.from([0x89, 0x50, 0, 0x47, 0x52]));
  return { workspace, outside };
}

describe('Grep tool', () => {
  it('lists files with matches by default, and lines or counts on request', async () => {
    const { workspace } = await project();
    const ctx = toolContext(workspace);
    expect(await grepTool.run({ pattern: 'router\\.' }, ctx)).toBe('src/routes/users.js');
    expect(await grepTool.run({ pattern: 'post', output_mode: 'content' }, ctx)).toBe("src/routes/users.js:2:router.post('/users')");
    expect(await grepTool.run({ pattern: 'ROUTER', '-i': true, output_mode: 'count' }, ctx)).toBe('src/app.ts:1\nsrc/routes/users.js:2');
    expect(await grepTool.run({ pattern: 'router', '-i': true, glob: '*.ts' }, ctx)).toBe('src/app.ts');
    // Only the binary logo.png contains a P: it is skipped.
    expect(await grepTool.run({ pattern: 'P' }, ctx)).toBe('No matches for /P/');
  });

  it('reports no matches, bad regular expressions and paths outside the workspace', async () => {
    const { workspace } = await project();
    const ctx = toolContext(workspace);
    expect(await grepTool.run({ pattern: 'nothing-here' }, ctx)).toMatch(/^No matches/);
    await expect(grepTool.run({ pattern: '(' }, ctx)).rejects.toThrow(/not a valid JavaScript regular expression/);
    await expect(grepTool.run({ pattern: 'x', path: '/etc' }, ctx)).rejects.toThrow(/outside the workspace/);
    await expect(grepTool.run({ pattern: 'x', glob: '../*' }, ctx)).rejects.toThrow(/outside the workspace/);
  });
});
