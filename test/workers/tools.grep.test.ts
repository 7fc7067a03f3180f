import { execFileSync } from 'node:child_process';
import { link, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { globTool } from '../../src/workers/tools/glob.ts';
import { grepTool } from '../../src/workers/tools/grep.ts';
import { BASH, sandbox, toolContext } from './fixtures.ts';

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

describe('Grep and Glob off the event loop', () => {
  it('stops a catastrophic regex at the time limit while the event loop keeps turning', async () => {
    const { workspace } = await sandbox();
    await writeFile(path.join(workspace.root, 'input.txt'), `${'a'.repeat(30)}!\n`);
    const ctx = toolContext(workspace, { bash: { ...BASH, searchTimeoutMs: 500 } });
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 20);
    try {
      await expect(grepTool.run({ pattern: '^(a+)+$' }, ctx)).rejects.toThrow(/Grep was stopped after 500 ms/);
    } finally {
      clearInterval(ticker);
    }
    // Blocked, the timer would not have fired at all during the half second.
    expect(ticks).toBeGreaterThan(3);
  });

  it('stops a glob that backtracks, and skips a FIFO and a hard link when reading', async () => {
    const { workspace, outside } = await sandbox();
    await writeFile(path.join(workspace.root, `${'a'.repeat(60)}`), 'x\n');
    const ctx = toolContext(workspace, { bash: { ...BASH, searchTimeoutMs: 500 } });
    const outcome = await globTool.run({ pattern: '*a*a*a*a*a*a*a*a*a*a*a*a*ab' }, ctx).then(String, (e: Error) => e.message);
    // Either picomatch answers or the limit cuts it off; either way in the worker thread.
    expect(outcome).toMatch(/No files match|Glob was stopped/);

    await mkdir(outside, { recursive: true });
    await writeFile(path.join(outside, 'secret.txt'), 'TOPSECRET\n');
    await link(path.join(outside, 'secret.txt'), path.join(workspace.root, 'hard.txt'));
    execFileSync('mkfifo', [path.join(workspace.root, 'fifo.txt')]);
    await writeFile(path.join(workspace.root, 'plain.txt'), 'TOPSECRET too\n');
    expect(await grepTool.run({ pattern: 'TOPSECRET' }, toolContext(workspace))).toBe('plain.txt');
  });
});
