import { describe, expect, it } from 'vitest';
import { boxHost, SERVER_PROCESSES } from '../../../src/workers/box/start.ts';
import { call, makeLower, openBox, sh, TEST_LIMITS } from './boxFixture.ts';

// The kernel holds each box's limits, whoever started the listener: a pids
// cgroup per box for root (RLIMIT_NPROC for an ordinary user), RLIMIT_AS
// and RLIMIT_CPU per process, and the layer's tmpfs size for what the task
// writes. CI runs this file as root and as an ordinary user.

describe('the limits of a task box', () => {
  it('stops a command at the process limit, and the box goes on answering', async () => {
    const { lower } = makeLower({});
    const box = await openBox(lower, { limits: { ...TEST_LIMITS, processes: 40 } });
    // Forks until the kernel refuses (python: no retry loop as in bash); the children wait, so each one counts.
    const fork = [
      'import os, time',
      'n = 0',
      'try:',
      '    for i in range(1000):',
      '        if os.fork() == 0:',
      '            time.sleep(3)',
      '            os._exit(0)',
      '        n += 1',
      'except OSError as e:',
      '    print("refused after", n, "errno", e.errno)',
    ].join('\n');
    const bomb = await call(box, 'Bash', { command: `python3 -c '${fork}'` });
    const [, forked] = /refused after (\d+) errno 11/.exec(bomb.text) ?? [];
    expect(forked, bomb.text).toBeDefined();
    expect(Number(forked)).toBeLessThanOrEqual(40 + SERVER_PROCESSES);
    expect(await sh(box, 'echo alive')).toBe('alive\n');
  }, 60_000);

  it('stops a command past its memory limit', async () => {
    const { lower } = makeLower({});
    const box = await openBox(lower, { limits: { ...TEST_LIMITS, memoryBytes: 96 * 1024 ** 2 } });
    const hog = await call(box, 'Bash', { command: 'x=$(head -c 200000000 /dev/zero | tr "\\0" a); echo "${#x}"' });
    expect(hog.isError).toBe(true);
    expect(hog.text).not.toContain('200000000');
    expect(await sh(box, 'echo alive')).toBe('alive\n');
  }, 60_000);

  it('refuses a write past the layer quota with an error naming the quota, from Write and from Bash', async () => {
    const { lower } = makeLower({ 'small.txt': 'small' });
    const box = await openBox(lower, { limits: { ...TEST_LIMITS, layerBytes: 1024 * 1024 } });
    const big = 'x'.repeat(2 * 1024 * 1024);
    const write = await call(box, 'Write', { file_path: 'big.txt', content: big });
    expect(write.isError).toBe(true);
    expect(write.text).toMatch(/layer is full.*1048576 bytes.*layerBytes/s);
    expect(write.changed).toEqual([]);
    expect((await box.layer()).map((e) => e.path)).not.toContain('big.txt');
    const bash = await call(box, 'Bash', { command: 'head -c 3000000 /dev/zero > big.bin' });
    expect(bash.isError).toBe(true);
    expect(bash.text).toMatch(/layer is full.*layerBytes/s);
    // The lower view is not the task's: reading it costs no quota, and a small write still fits once the big file is gone.
    await sh(box, 'rm -f big.bin');
    expect((await call(box, 'Write', { file_path: 'after.txt', content: 'ok' })).isError).toBe(false);
  }, 60_000);

  it('stops a command at its CPU time, before its wall-clock limit', async () => {
    const { lower } = makeLower({});
    const box = await openBox(lower, { limits: { ...TEST_LIMITS, cpuSeconds: 1 }, bashTimeoutMs: 60_000 });
    const spin = await call(box, 'Bash', { command: 'while :; do :; done' });
    expect(spin.isError).toBe(true);
    expect(spin.text).not.toMatch(/killed after 60000 ms/);
    expect(spin.text).toMatch(/Exit code (none|15[0-9])/);
  }, 60_000);

  it('bounds the box’s /tmp by tmpBytes', async () => {
    const { lower } = makeLower({});
    const box = await openBox(lower, { limits: { ...TEST_LIMITS, tmpBytes: 1024 * 1024 } });
    const fill = await call(box, 'Bash', { command: 'head -c 2000000 /dev/zero > /tmp/fill' });
    expect(fill.isError).toBe(true);
    expect(fill.text).toMatch(/No space left on device/);
  }, 60_000);
});

describe('the memory cgroup of a task box, where the listener can make one', async () => {
  const host = await boxHost();
  const memory = typeof host === 'string' ? host : host.memory;
  it.skipIf(typeof memory === 'string')('holds the box’s processes together under one limit, though each stays under its own', async () => {
    const { lower } = makeLower({});
    const limits = { ...TEST_LIMITS, memoryBytes: 160 * 1024 ** 2, tmpBytes: 1024 ** 2, layerBytes: 1024 ** 2 };
    const box = await openBox(lower, { limits });
    // Six processes of 100 MiB each: every one under RLIMIT_AS (160 MiB), together over the cgroup (160 + 2 + 256 MiB).
    const hogs = await call(box, 'Bash', {
      command:
        'hog() { python3 -c "b = bytearray(100 * 2**20); import time; time.sleep(4)"; }; hog && echo "one fits"; ' +
        'for i in 1 2 3 4 5 6; do hog & done; k=0; for j in 1 2 3 4 5 6; do wait -n; [ $? -eq 137 ] && k=$((k+1)); done; echo "oom-killed $k"',
    });
    expect(hogs.text).toContain('one fits');
    expect(hogs.text).toMatch(/oom-killed [1-6]/);
    expect(await sh(box, 'echo alive')).toBe('alive\n');
  }, 60_000);
});
