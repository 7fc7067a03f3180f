import { existsSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { bash, runEscape } from './harness.ts';

// Issue 18, item 1 and /tmp of item 6, through the whole listener: the fake
// Messages API scripts the Bash calls, the box is the real one, /healthz is
// asked all along. CI runs this file as root and again as an ordinary user.

const who = process.getuid?.() === 0 ? 'root' : 'an ordinary user';

function expectHealthy(health: { answered: number; missed: number }): void {
  expect(health.missed).toBe(0);
  expect(health.answered).toBeGreaterThan(0);
}

describe(`the box of a listener started by ${who}`, () => {
  it('has no capability, and cannot remount /usr read-write or make a user namespace', async () => {
    const mark = `/usr/share/orch-escape-${randomUUID().slice(0, 8)}`;
    const run = await runEscape({
      'db-worker': {
        turns: [[
          bash('grep -E "^Cap(Eff|Prm|Bnd|Amb):|^NoNewPrivs:" /proc/self/status'),
          bash(`mount -o remount,bind,rw /usr && touch ${mark} && echo REMOUNTED`),
          bash('unshare -Urm sh -c "mount -o remount,bind,rw /usr" && echo UNSHARED'),
        ]],
      },
    });
    const [status, remount, unshare] = run.tools;
    const caps = status?.content ?? '';
    for (const set of ['CapEff', 'CapPrm', 'CapBnd', 'CapAmb']) expect(caps).toMatch(new RegExp(`${set}:\\t0{16}`));
    expect(caps).toMatch(/NoNewPrivs:\t1/);
    expect(remount?.isError).toBe(true);
    expect(remount?.content).not.toContain('REMOUNTED');
    expect(existsSync(mark)).toBe(false);
    expect(unshare?.isError).toBe(true);
    expect(unshare?.content).not.toContain('UNSHARED');
    expect(run.status).toBe('completed');
    expectHealthy(run.health);
  }, 90_000);

  it('stops a command at the process limit, and a fork bomb does not take the listener down', async () => {
    const run = await runEscape(
      {
        'db-worker': {
          turns: [[
            // bash gives up at the first fork refused; each sleep started is written down first, by a builtin.
            bash('for i in $(seq 2000); do sleep 5 & echo $! >> started; done 2>/dev/null'),
            bash('wc -l < started'),
            // The bomb forks on while builtins alone wait two seconds, then count what runs in the box.
            bash('bomb() { bomb | bomb & }; bomb; SECONDS=0; while [ $SECONDS -lt 2 ]; do true; done; n=0; for p in /proc/[0-9]*; do n=$((n+1)); done; echo "running=$n"'),
            bash('echo still-working'),
          ]],
        },
      },
      { over: { bashMaxProcesses: 48 } },
    );
    const [loop, counted, bomb, after] = run.tools;
    expect(loop?.isError).toBe(true);
    const started = Number(counted?.content.trim());
    expect(started).toBeGreaterThan(4);
    expect(started).toBeLessThanOrEqual(48);
    const running = Number(/running=(\d+)/.exec(bomb?.content ?? '')?.[1]);
    expect(running).toBeGreaterThan(4);
    expect(running).toBeLessThanOrEqual(48);
    expect(after?.content).toContain('still-working');
    expect(run.status).toBe('completed');
    expectHealthy(run.health);
  }, 120_000);

  it('cannot write more than bashTmpBytes into /tmp: the write fails with ENOSPC', async () => {
    const run = await runEscape(
      {
        'db-worker': {
          turns: [[bash('head -c 12000000 /dev/zero > /tmp/fill; echo "rc=$?"; stat -c "size=%s" /tmp/fill; df -k /tmp | tail -1')]],
        },
      },
      { over: { bashTmpBytes: 4 * 1024 ** 2 } },
    );
    const out = run.tools[0]?.content ?? '';
    expect(out).toMatch(/No space left on device/);
    expect(out).toMatch(/rc=1/);
    expect(Number(/size=(\d+)/.exec(out)?.[1])).toBeLessThanOrEqual(4 * 1024 ** 2);
    expectHealthy(run.health);
  }, 90_000);
});
