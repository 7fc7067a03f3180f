import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { sweepStale } from '../../../src/workers/box/bundle.ts';
import { BoxFailedError } from '../../../src/workers/box/errors.ts';
import { eventually } from '../../support/redis.ts';
import { makeLower, openBox, sh } from './boxFixture.ts';

const here = path.dirname(fileURLToPath(import.meta.url));

/** What /proc still shows of a box: processes whose command line or mounts name `marker`. */
function leftovers(marker: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (cmdline.includes(marker) || /sleep (987654|876543)/.test(cmdline)) found.push(`${pid}: ${cmdline.slice(0, 120)}`);
      else if (readFileSync(`/proc/${pid}/mountinfo`, 'utf8').includes(marker)) found.push(`${pid}: mounts ${marker}`);
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

describe('the lifetime of a task box', () => {
  it('leaves no process and no mount when its listener is SIGKILLed, whatever runs in it', async () => {
    const { lower } = makeLower({ 'a.txt': 'a' });
    const marker = `held-${randomUUID().slice(0, 8)}`;
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'holdBox.ts'), lower, `/work/${marker}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    await eventually(async () => (out.includes('ready') ? true : undefined), 30_000, `the box to start (${out})`);
    expect(leftovers(marker).length).toBeGreaterThan(0); // the check sees a live box
    const reaped = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await reaped; // until then it is a zombie that kill(pid, 0) still finds
    await eventually(async () => (leftovers(marker).length === 0 ? true : undefined), 10_000, 'the box to go');
    expect(leftovers(marker)).toEqual([]);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(marker);
    expect(readdirSync(lower)).toEqual(['a.txt']); // what it half-wrote was in its layer, gone with it
    // The next listener sweeps the empty mount folder and the server bundle the killed one left.
    const left = () => readdirSync(tmpdir()).filter((name) => name.startsWith(`orch-box-mnt-${child.pid}-`) || name.startsWith(`orch-box-server-${child.pid}-`));
    expect(left().length).toBeGreaterThan(0);
    sweepStale();
    expect(left()).toEqual([]);
  }, 60_000);

  it('close() stops every process of the box, a daemon that left its command too, and can be called twice', async () => {
    const { lower } = makeLower({});
    const root = `/work/closed-${randomUUID().slice(0, 8)}`;
    const box = await openBox(lower, { root });
    await sh(box, 'setsid sleep 987654 </dev/null >/dev/null 2>&1 & echo daemon');
    expect(leftovers(root).length).toBeGreaterThan(0);
    await Promise.all([box.close(), box.close()]);
    expect(leftovers(root)).toEqual([]);
    const after = await box.call('Read', { file_path: 'x' }, new AbortController().signal).catch((error: Error) => error);
    expect(after).toBeInstanceOf(Error);
  }, 60_000);

  it('a box whose server a command kills fails its calls with BoxFailedError and is taken down without close()', async () => {
    const { lower } = makeLower({});
    const root = `/work/killed-${randomUUID().slice(0, 8)}`;
    const box = await openBox(lower, { root });
    const killing = await box.call('Bash', { command: 'kill -9 $(pgrep -f server.mjs)' }, new AbortController().signal).catch((error: unknown) => error);
    expect(killing).toBeInstanceOf(BoxFailedError);
    await expect(box.call('Read', { file_path: 'x' }, new AbortController().signal)).rejects.toBeInstanceOf(BoxFailedError);
    await eventually(async () => (leftovers(root).length === 0 ? true : undefined), 10_000, 'the box to go');
  }, 60_000);

  it('an aborted Bash call kills its command and leaves the box usable', async () => {
    const { lower } = makeLower({});
    const box = await openBox(lower);
    const controller = new AbortController();
    const pending = box.call('Bash', { command: 'sleep 876543' }, controller.signal);
    await eventually(async () => (leftovers('sleep 876543').length > 0 ? true : undefined), 10_000, 'the command to run');
    controller.abort();
    await expect(pending).rejects.toThrow(/aborted/);
    await eventually(async () => (leftovers('sleep 876543').length === 0 ? true : undefined), 10_000, 'the command to be killed');
    expect(await sh(box, 'echo still')).toBe('still\n');
  }, 60_000);
});
