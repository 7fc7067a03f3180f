import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { probeBox } from '../../../src/workers/box/index.ts';
import { FileChangeLog } from '../../../src/workers/changes.ts';
import { createScriptedModel } from '../../../src/models/scripted.ts';
import { createWorkerRunner } from '../../../src/workers/runWorker.ts';
import { agent, BASH } from '../fixtures.ts';
import { runToolUse } from '../../../src/workers/runToolUse.ts';
import { getTools, type BashOptions } from '../../../src/workers/tools/index.ts';
import { unsandboxed } from '../../../src/workers/sandbox/sandbox.ts';
import { Workspace } from '../../../src/workers/workspace.ts';
import { call, makeLower, openBox, ROOT, sh } from './boxFixture.ts';

// The task box through the real thing: unshare, overlayfs, bwrap and the
// bundled tool server, with lower folders made for each test. CI runs this
// file as root and again as an ordinary user (BOX_TESTS in .ci/run).

/** Every file under `dir` with its content: what a lower folder holds, to check nothing changed it. */
function contents(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    out[path.relative(dir, file)] = readFileSync(file, 'utf8');
  }
  return out;
}

describe('the task box', () => {
  it('is found to work here by probeBox, which tries the real thing once', async () => {
    expect(await probeBox()).toBeUndefined();
  }, 60_000);

  it('refuses a root that would cover the box’s own folders, and a lower layer overlayfs cannot name', async () => {
    const { lower } = makeLower({});
    await expect(openBox(lower, { root: '/usr/work' })).rejects.toThrow(/\/usr/);
    await expect(openBox(lower, { root: '/' })).rejects.toThrow(/other than \//);
    await expect(openBox(`${lower}:/etc`)).rejects.toThrow(/without :/);
    await expect(openBox(path.join(lower, 'missing'))).rejects.toThrow(/not a folder/);
  }, 60_000);

  it('runs each tool inside, reports its changes, and writes to the layer, never to the lower folder', async () => {
    const { lower } = makeLower({ 'a.txt': 'alpha\n', 'src/app.js': 'const x = 1;\n', 'gone.txt': 'bye\n' });
    const before = contents(lower);
    const box = await openBox(lower);

    expect(await call(box, 'Read', { file_path: 'a.txt' })).toEqual({ text: '     1\talpha', isError: false, changed: [] });
    expect(await call(box, 'Write', { file_path: 'new/b.txt', content: 'beta\n' })).toMatchObject({
      isError: false,
      changed: [{ path: 'new/b.txt', change: 'created' }],
    });
    expect(await call(box, 'Edit', { file_path: `${ROOT}/src/app.js`, old_string: '1', new_string: '2' })).toMatchObject({
      isError: false,
      changed: [{ path: 'src/app.js', change: 'modified' }],
    });
    const bash = await call(box, 'Bash', { command: 'rm gone.txt && echo made > made.txt && mv a.txt moved.txt && pwd' });
    expect(bash.isError).toBe(false);
    expect(bash.text.trim()).toBe(ROOT);
    expect(bash.changed).toEqual(
      expect.arrayContaining([
        { path: 'made.txt', change: 'created' },
        { path: 'moved.txt', change: 'created' },
        { path: 'gone.txt', change: 'deleted' },
        { path: 'a.txt', change: 'deleted' },
      ]),
    );
    expect(bash.changed).toHaveLength(4);
    expect((await call(box, 'Grep', { pattern: 'const x = 2' })).text).toBe('src/app.js');
    expect((await call(box, 'Glob', { pattern: '**/*.txt' })).text.split('\n').sort()).toEqual(['made.txt', 'moved.txt', 'new/b.txt']);
    const failed = await call(box, 'Read', { file_path: 'a.txt' });
    expect(failed.isError).toBe(true);

    expect(contents(lower)).toEqual(before);
  }, 60_000);

  it('layer() shows created, modified, deleted (whiteouts) and renamed paths, and what a folder made anew hides', async () => {
    const { lower } = makeLower({ 'keep.txt': 'k', 'mod.txt': 'm', 'del.txt': 'd', 'dir/one.txt': '1', 'dir/two.txt': '2', 'old/x.txt': 'x', 'fresh/y.txt': 'y' });
    const box = await openBox(lower);
    await sh(box, 'echo changed > mod.txt && rm del.txt && mv dir renamed && echo n > new.txt && rm -r fresh && mkdir fresh && echo z > fresh/z.txt && mv old/x.txt old/x2.txt');
    const layer = await box.layer();
    const kinds = Object.fromEntries(layer.map((e) => [e.path, e.kind]));
    expect(kinds).toMatchObject({
      'mod.txt': 'file',
      'del.txt': 'deleted',
      dir: 'deleted',
      renamed: 'dir',
      'renamed/one.txt': 'file',
      'renamed/two.txt': 'file',
      'new.txt': 'file',
      fresh: 'dir',
      'fresh/z.txt': 'file',
      'fresh/y.txt': 'deleted',
      'old/x.txt': 'deleted',
      'old/x2.txt': 'file',
    });
    expect(kinds['keep.txt']).toBeUndefined();
    expect(layer.map((e) => e.path)).toEqual([...layer.map((e) => e.path)].sort());
  }, 60_000);

  it('read() gives a symlink as a link, a FIFO as other without blocking, and a path behind a link as absent', async () => {
    const { lower } = makeLower({ 'f.txt': 'content', 'run.sh': '#!/bin/sh\n', 'real/inner.txt': 'i' });
    const box = await openBox(lower);
    await sh(box, 'chmod +x run.sh && ln -s /etc/passwd link && mkfifo pipe && ln -s real via');
    const files = await box.read(['f.txt', 'run.sh', 'link', 'pipe', 'via/inner.txt', 'missing', 'real']);
    expect(files).toEqual([
      { path: 'f.txt', kind: 'file', executable: false, content: Buffer.from('content') },
      { path: 'run.sh', kind: 'file', executable: true, content: Buffer.from('#!/bin/sh\n') },
      { path: 'link', kind: 'symlink', target: '/etc/passwd' },
      { path: 'pipe', kind: 'other' },
      { path: 'via/inner.txt', kind: 'absent' },
      { path: 'missing', kind: 'absent' },
      { path: 'real', kind: 'other' },
    ]);
    expect(Object.fromEntries((await box.layer()).map((e) => [e.path, e.kind]))).toMatchObject({ link: 'symlink', pipe: 'other', 'run.sh': 'file' });
  }, 60_000);

  it('read() brings a file larger than one answer in parts, byte for byte', async () => {
    const { lower } = makeLower({});
    const box = await openBox(lower);
    const sum = (await sh(box, 'head -c 10000000 /dev/urandom > big.bin && sha256sum big.bin')).split(' ')[0];
    const [big] = await box.read(['big.bin']);
    expect(big?.content?.length).toBe(10_000_000);
    expect(createHash('sha256').update(big!.content!).digest('hex')).toBe(sum);
  }, 60_000);

  it('write() puts files, links and deletions into the view, as a resumed task replays its commits', async () => {
    const { lower } = makeLower({ 'old.txt': 'old', 'dir/a.txt': 'a' });
    const box = await openBox(lower);
    await box.write([
      { path: 'nested/new.sh', kind: 'file', executable: true, content: Buffer.from('#!/bin/sh\necho hi\n') },
      { path: 'old.txt', kind: 'absent' },
      { path: 'dir', kind: 'symlink', target: 'nested' },
      { path: 'bin.dat', kind: 'file', content: Buffer.from([0, 1, 2, 255]) },
    ]);
    expect(await sh(box, './nested/new.sh && ls -l dir | cut -c1 && test ! -e old.txt && od -An -tx1 bin.dat')).toMatch(/hi\nl\n\s*00 01 02 ff/);
    const kinds = Object.fromEntries((await box.layer()).map((e) => [e.path, e.kind]));
    expect(kinds).toMatchObject({ 'nested/new.sh': 'file', 'old.txt': 'deleted', dir: 'symlink', 'bin.dat': 'file' });
  }, 60_000);

  it('runs the project’s own checks: npm test with its installed node_modules, no network, caches in the layer', async () => {
    const { lower } = makeLower({
      'package.json': JSON.stringify({ name: 'shop', private: true, scripts: { test: 'node test.js' } }),
      'node_modules/tiny-add/package.json': JSON.stringify({ name: 'tiny-add', version: '1.0.0', main: 'index.js' }),
      'node_modules/tiny-add/index.js': 'module.exports = (a, b) => a + b;\n',
      'test.js': [
        "const add = require('tiny-add');",
        "const fs = require('fs');",
        "fs.mkdirSync('node_modules/.cache/tiny', { recursive: true });",
        "fs.writeFileSync('node_modules/.cache/tiny/run.json', '{}');",
        "if (add(2, 3) !== 5) { console.error('add is broken'); process.exit(1); }",
        "console.log('1 passed');",
      ].join('\n'),
    });
    const box = await openBox(lower);
    const result = await call(box, 'Bash', { command: 'npm test --offline 2>&1' });
    expect(result).toMatchObject({ isError: false });
    expect(result.text).toContain('1 passed');
    expect(result.changed).toEqual([{ path: 'node_modules/.cache/tiny/run.json', change: 'created' }]);
    await call(box, 'Edit', { file_path: 'node_modules/tiny-add/index.js', old_string: 'a + b', new_string: 'a - b' });
    const failing = await call(box, 'Bash', { command: 'npm test --offline 2>&1' });
    expect(failing.isError).toBe(true);
    expect(failing.text).toContain('add is broken');
    expect(readFileSync(path.join(lower, 'node_modules/tiny-add/index.js'), 'utf8')).toContain('a + b');
  }, 90_000);

  it('two boxes over the same lower folder do not see each other’s writes', async () => {
    const { lower } = makeLower({ 'shared.txt': 'base\n' });
    const [one, two] = await Promise.all([openBox(lower), openBox(lower)]);
    await call(one, 'Write', { file_path: 'shared.txt', content: 'one\n' });
    await call(one, 'Write', { file_path: 'only-one.txt', content: '1' });
    await sh(two, 'echo two > shared.txt');
    expect((await call(one, 'Read', { file_path: 'shared.txt' })).text).toBe('     1\tone');
    expect((await call(two, 'Read', { file_path: 'shared.txt' })).text).toBe('     1\ttwo');
    expect((await call(two, 'Read', { file_path: 'only-one.txt' })).isError).toBe(true);
    expect(readFileSync(path.join(lower, 'shared.txt'), 'utf8')).toBe('base\n');
  }, 60_000);

  it('takes the workspace survey inside, over the whole view', async () => {
    const { lower } = makeLower({ 'package.json': JSON.stringify({ name: 'shop', dependencies: { express: '1' } }), 'src/models/user.js': '' });
    const box = await openBox(lower);
    await call(box, 'Write', { file_path: 'src/routes/users.js', content: '' });
    const survey = await box.survey();
    expect(survey).toMatchObject({ root: ROOT, exists: true, models: ['src/models/user.js'], routes: ['src/routes/users.js'], packageJson: { name: 'shop', dependencies: ['express'] } });
  }, 60_000);

  it('runs a whole worker in the box when runWorker is given one: its file lands in the layer, and the listener makes no folder of its own', async () => {
    const { lower, parent } = makeLower({ 'src/models/user.js': 'export const User = {};\n' });
    const box = await openBox(lower);
    const run = createWorkerRunner({
      agents: new Map([['api-worker', agent('api-worker')]]),
      model: createScriptedModel({ latencyMs: () => 0, fail: new Set() }),
      resolveModel: () => 'claude-sonnet-4-5',
      maxTurns: 10,
      maxTokens: 1024,
      tokenBudget: 1_000_000,
      bash: BASH,
    });
    const workspace = path.join(parent, 'not-made');
    const prompt = '# Task 1\nCreate user registration endpoint\n\n## Outputs\nfiles created: src/models/user.js';
    const result = await run({ taskId: '1', worker: 'api-worker', prompt, workspace, attempt: 1, box }, new AbortController().signal);
    // The stand-in scaffolds the app it mounts the router in when there is none: every file it made is in the layer.
    expect(result.files_created).toContain('src/routes/users.js');
    const layer = (await box.layer()).map((e) => e.path);
    for (const file of result.files_created) expect(layer).toContain(file);
    expect(existsSync(workspace)).toBe(false);
    expect(readdirSync(lower, { recursive: true }).sort()).toEqual(['src', 'src/models', 'src/models/user.js']);
  }, 60_000);

  it('takes a worker’s tool calls when runToolUse is given the box, into the run’s change log', async () => {
    const { lower } = makeLower({ 'a.txt': 'a\n' });
    const box = await openBox(lower);
    const workspace = Workspace.inBox(box.root);
    const changes = new FileChangeLog(workspace.root);
    const bash: BashOptions = { timeoutMs: 10_000, maxOutputBytes: 4096, env: {}, sandbox: unsandboxed() };
    const ctx = { workspace, changes, signal: new AbortController().signal, bash, box };
    const tools = getTools(['Write', 'Bash', 'Read']);
    const use = (name: string, input: object, id: string) => runToolUse({ type: 'tool_use', id, name, input } as never, tools, ctx);
    expect(await use('Write', { file_path: 'b.txt', content: 'b' }, 't1')).toMatchObject({ content: 'Created b.txt (1 bytes)' });
    await use('Bash', { command: 'rm a.txt' }, 't2');
    expect(await use('Read', { file_path: 'a.txt' }, 't3')).toMatchObject({ is_error: true, content: expect.stringMatching(/^Read failed: /) });
    expect(changes.snapshot()).toEqual({ created: ['b.txt'], modified: [], deleted: ['a.txt'] });
    // Made and removed in the run: nothing; removed and made again: modified.
    await use('Write', { file_path: 'tmp.txt', content: 't' }, 't4');
    await use('Bash', { command: 'rm tmp.txt && echo again > a.txt' }, 't5');
    expect(changes.snapshot()).toEqual({ created: ['b.txt'], modified: ['a.txt'], deleted: [] });
  }, 60_000);
});
