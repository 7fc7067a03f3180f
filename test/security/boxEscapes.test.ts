import { linkSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { redisUrl } from '../support/redis.ts';
import { call, makeLower, openBox, ROOT, sh } from '../workers/box/boxFixture.ts';

// Issue 21: every escape of the sandbox suite, now for every tool, through
// the task box (the real one: unshare, overlayfs, bwrap, the tool server).
// The host's "outside" is a folder beside the lower folder; inside the box
// it does not exist, and the path checks of the tools stay as the second
// line for what the box does show (its /etc, /tmp, /proc). CI runs this
// file as root and again as an ordinary user.

const who = process.getuid?.() === 0 ? 'root' : 'an ordinary user';

describe(`a task box started by ${who}`, () => {
  it('keeps Read, Write, Edit, Glob and Grep inside the view: .., absolute paths, symlinks out and /proc/self/root are refused', async () => {
    const { lower, outside } = makeLower({ 'a.txt': 'a\n' });
    const box = await openBox(lower);
    await sh(box, `ln -s /etc etc-link && ln -s /tmp tmp-link && ln -s ${outside}/secret.txt host-link && ln -s ../.. up`);
    const attempts: [Parameters<typeof call>[1], Record<string, unknown>][] = [
      ['Read', { file_path: '../outside/secret.txt' }],
      ['Read', { file_path: `${outside}/secret.txt` }],
      ['Read', { file_path: '/proc/self/root/etc/passwd' }],
      ['Read', { file_path: '/etc/passwd' }],
      ['Read', { file_path: 'etc-link/passwd' }],
      ['Read', { file_path: 'host-link' }],
      ['Read', { file_path: 'up/etc/passwd' }],
      ['Write', { file_path: '../escape.txt', content: 'x' }],
      ['Write', { file_path: '/tmp/escape.txt', content: 'x' }],
      ['Write', { file_path: 'tmp-link/escape.txt', content: 'x' }],
      ['Edit', { file_path: '/etc/hosts', old_string: 'localhost', new_string: 'evil' }],
      ['Edit', { file_path: 'etc-link/hosts', old_string: 'localhost', new_string: 'evil' }],
      ['Glob', { pattern: '*', path: 'etc-link' }],
      ['Glob', { pattern: '../*' }],
      ['Grep', { pattern: 'root', path: '/etc' }],
      ['Grep', { pattern: 'root', path: 'etc-link' }],
    ];
    for (const [tool, input] of attempts) {
      const result = await call(box, tool, input);
      expect({ tool, input, isError: result.isError }).toEqual({ tool, input, isError: true });
      expect(result.text).not.toMatch(/root:x:0:0|OUTSIDE-SECRET/);
      expect(result.changed).toEqual([]);
    }
    expect(await sh(box, 'ls -A /tmp/escape.txt /tmp/target 2>/dev/null; echo end')).toBe('end\n');
    expect(readdirSync(path.dirname(lower)).sort()).toEqual(['lower', 'outside']);
  }, 60_000);

  it('does not show the host outside the view: not the lower folders, not the folder beside them; the layer, lower view and server code are read-only', async () => {
    const { lower, outside } = makeLower({ 'a.txt': 'a\n' });
    const box = await openBox(lower);
    const probe = await call(box, 'Bash', {
      command: [
        `test -e ${lower} && echo SEES-LOWER`,
        `test -e ${outside} && echo SEES-OUTSIDE`,
        'for d in /run/orch/layer /run/orch/base /run/orch/server; do touch $d/x 2>/dev/null && echo WROTE-$d; done',
        '{ echo x >> /run/orch/server/server.mjs; } 2>/dev/null && echo WROTE-SERVER',
        'echo end',
      ].join('; '),
    });
    expect(probe.text).toBe('end\n');
    expect(readdirSync(lower)).toEqual(['a.txt']);
    expect(readFileSync(path.join(lower, 'a.txt'), 'utf8')).toBe('a\n');
  }, 60_000);

  it('refuses a hard link to a file outside for Read, Write and Edit, and Bash writing through it changes only the layer', async () => {
    const { lower, outside } = makeLower({});
    linkSync(path.join(outside, 'secret.txt'), path.join(lower, 'hl.txt'));
    const box = await openBox(lower);
    for (const [tool, input] of [
      ['Read', { file_path: 'hl.txt' }],
      ['Write', { file_path: 'hl.txt', content: 'pwned' }],
      ['Edit', { file_path: 'hl.txt', old_string: 'OUTSIDE', new_string: 'pwned' }],
    ] as const) {
      const result = await call(box, tool, input);
      expect(result.isError).toBe(true);
      expect(result.text).toMatch(/hard link/);
    }
    const made = await call(box, 'Bash', { command: 'ln /etc/hostname made-link && echo LINKED' });
    expect(made.text).not.toContain('LINKED');
    await sh(box, 'echo pwned >> hl.txt');
    expect(readFileSync(path.join(outside, 'secret.txt'), 'utf8')).toBe('OUTSIDE-SECRET\n');
  }, 60_000);

  it('refuses FIFOs without blocking Read, Grep, the survey or read()', async () => {
    const { lower } = makeLower({ 'src/a.js': 'needle\n' });
    const box = await openBox(lower);
    await sh(box, 'mkfifo package.json src/pipe.js');
    const read = await call(box, 'Read', { file_path: 'package.json' });
    expect(read.isError).toBe(true);
    expect((await call(box, 'Grep', { pattern: 'needle' })).text).toBe('src/a.js');
    expect((await box.survey()).packageJson).toBeUndefined();
    expect(await box.read(['package.json', 'src/pipe.js'])).toEqual([
      { path: 'package.json', kind: 'other' },
      { path: 'src/pipe.js', kind: 'other' },
    ]);
    const write = await call(box, 'Write', { file_path: 'package.json', content: '{}' });
    expect(write.isError).toBe(true);
  }, 60_000);

  it('never lands a Write outside the view while Bash swaps its folder for a symlink (500 writes)', async () => {
    // d is made in the layer: overlayfs refuses to rename a folder of the lower view (EXDEV), which would stop the swaps.
    const { lower } = makeLower({});
    const box = await openBox(lower);
    // node inside the box: renames without a fork each, so the window is wide open.
    const swapper = [
      'const fs = require("fs"); let n = 0; fs.mkdirSync("d", { recursive: true });',
      'fs.mkdirSync("/tmp/target", { recursive: true }); fs.symlinkSync("/tmp/target", "l"); fs.writeFileSync("/tmp/started", "");',
      'while (!fs.existsSync("/tmp/stop")) {',
      '  try { fs.renameSync("d", "x"); fs.renameSync("l", "d"); fs.renameSync("d", "l"); fs.renameSync("x", "d"); n++; }',
      '  catch {',
      '    try { if (fs.lstatSync("d").isSymbolicLink()) fs.renameSync("d", "l"); } catch {}',
      '    try { fs.lstatSync("d"); fs.rmSync("x", { recursive: true, force: true }); } catch { try { fs.renameSync("x", "d"); } catch { fs.mkdirSync("d", { recursive: true }); } }',
      '    try { fs.lstatSync("l"); } catch { fs.symlinkSync("/tmp/target", "l"); }',
      '  }',
      '}',
      'console.log(`swapped ${n} times`);',
    ].join(' ');
    const swapping = call(box, 'Bash', { command: `node -e '${swapper}'`, timeout: 60_000 });
    await sh(box, 'for i in $(seq 1000); do [ -e /tmp/started ] && break; sleep 0.01; done; echo ready');
    const writes = [];
    for (let i = 0; i < 500; i++) writes.push(call(box, 'Write', { file_path: 'd/f.txt', content: `write ${i}` }));
    const results = await Promise.all(writes);
    await sh(box, 'touch /tmp/stop');
    expect((await swapping).text).toMatch(/swapped [1-9]\d* times/);
    expect(results.some((r) => !r.isError)).toBe(true);
    expect(await sh(box, 'ls -A /tmp/target; echo end')).toBe('end\n');
    for (const r of results) for (const c of r.changed) expect(c.path).toBe('d/f.txt');
  }, 120_000);

  it('gives commands no capability, no new user namespace, no mount', async () => {
    const { lower } = makeLower({});
    const box = await openBox(lower);
    const status = await sh(box, 'grep -E "^Cap(Eff|Prm|Bnd|Amb):|^NoNewPrivs:" /proc/self/status');
    for (const set of ['CapEff', 'CapPrm', 'CapBnd', 'CapAmb']) expect(status).toMatch(new RegExp(`${set}:\\t0{16}`));
    expect(status).toMatch(/NoNewPrivs:\t1/);
    const unshare = await call(box, 'Bash', { command: 'unshare -Urm true && echo UNSHARED' });
    expect(unshare.text).not.toContain('UNSHARED');
    const mount = await call(box, 'Bash', { command: `mount -t tmpfs x ${ROOT} && echo MOUNTED; mount -o remount,rw /run/orch/base && echo REMOUNTED` });
    expect(mount.text).not.toMatch(/MOUNTED/);
  }, 60_000);

  it('shows commands none of the listener’s environment, and no network: Redis on loopback is out of reach', async () => {
    process.env.ORCH_BOX_TEST_SECRET = 'listener-secret-value-7731';
    try {
      const { lower } = makeLower({});
      const box = await openBox(lower);
      const env = await sh(box, 'env; cat /proc/*/environ 2>/dev/null | tr "\\0" "\\n"; cat /proc/*/cmdline 2>/dev/null | tr "\\0" " "; echo end');
      expect(env).not.toContain('listener-secret-value-7731');
      expect(env).not.toContain('ORCH_BOX_TEST_SECRET');
      const port = new URL(redisUrl()).port || '6379';
      const redis = await call(box, 'Bash', { command: `exec 3<>/dev/tcp/127.0.0.1/${port} && echo CONNECTED` });
      expect(redis.isError).toBe(true);
      expect(redis.text).not.toContain('CONNECTED');
      const out = await call(box, 'Bash', { command: 'exec 3<>/dev/tcp/1.1.1.1/80 && echo CONNECTED' });
      expect(out.text).not.toContain('CONNECTED');
    } finally {
      delete process.env.ORCH_BOX_TEST_SECRET;
    }
  }, 60_000);
});
