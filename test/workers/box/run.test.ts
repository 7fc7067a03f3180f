import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { probeBox } from '../../../src/workers/box/index.ts';
import { makeLower, openBox, ROOT } from './boxFixture.ts';

// The box's `run` op (TaskBox.run): the project's checks run inside the
// task's box, in the view's root, with the box's limits and a time limit.
// CI runs this file as root and again as an ordinary user (BOX_TESTS).

const why = await probeBox();
const signal = () => new AbortController().signal;

describe.skipIf(why !== undefined)('TaskBox.run', () => {
  it('runs a command in the view root to its exit code, and sees what the task wrote', async () => {
    const { lower } = makeLower({ 'test.sh': 'test -f fixed.txt && echo ok || { echo "not fixed" >&2; exit 3; }\n' });
    const box = await openBox(lower);
    const failing = await box.run('bash test.sh', 10_000, signal());
    expect(failing).toMatchObject({ exitCode: 3, timedOut: false });
    expect(failing.output).toContain('not fixed');
    await box.write([{ path: 'fixed.txt', kind: 'file', content: Buffer.from('yes\n') }]);
    const passing = await box.run('bash test.sh && pwd', 10_000, signal());
    expect(passing).toMatchObject({ exitCode: 0, timedOut: false });
    expect(passing.output).toContain(`ok\n${ROOT}`);
  }, 60_000);

  it('says 127 for a command that is not there, and kills one at its time limit with no exit code', async () => {
    const { lower } = makeLower({});
    const box = await openBox(lower);
    const missing = await box.run('no-such-check-command --flag', 10_000, signal());
    expect(missing.exitCode).toBe(127);
    expect(missing.output).toMatch(/not found/);
    const hung = await box.run('echo started; sleep 600', 500, signal());
    expect(hung).toMatchObject({ exitCode: null, timedOut: true });
    expect(hung.output).toContain('started');
  }, 60_000);

  it('keeps the tail of a long output, where a failure is reported', async () => {
    const { lower } = makeLower({});
    const box = await openBox(lower);
    const r = await box.run('seq 1 200000; echo THE-END; exit 1', 20_000, signal());
    expect(r.exitCode).toBe(1);
    expect(r.output).toMatch(/THE-END\n?$/);
    expect(r.output).toMatch(/earlier bytes of output dropped/);
    expect(r.output.length).toBeLessThan(70 * 1024);
  }, 60_000);

  it('cannot read the host beside the view or write its lower folder', async () => {
    const { lower, outside } = makeLower({ 'a.txt': 'alpha\n' });
    const box = await openBox(lower);
    const read = await box.run(`cat ${path.join(outside, 'secret.txt')}; cat /etc/shadow; echo done`, 10_000, signal());
    expect(read.output).not.toContain('OUTSIDE-SECRET');
    expect(read.output).not.toMatch(/root:[^\n]*:\d+:/);
    const wrote = await box.run(`echo changed > a.txt; echo x > ${path.join(lower, 'b.txt')}; echo x > ${path.join(outside, 'c.txt')}; true`, 10_000, signal());
    expect(wrote.exitCode).toBe(0);
    expect(readFileSync(path.join(lower, 'a.txt'), 'utf8')).toBe('alpha\n');
    expect(() => readFileSync(path.join(lower, 'b.txt'))).toThrow();
    expect(() => readFileSync(path.join(outside, 'c.txt'))).toThrow();
  }, 60_000);
});
