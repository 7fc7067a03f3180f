import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileChangeLog } from '../../../src/workers/changes.ts';
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
  }, 60_000);
});
