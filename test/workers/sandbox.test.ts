import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { createLogger } from '../../src/logger.ts';
import { startTestOrchestrator } from '../support/orchestrator.ts';
import { openToBox } from '../../src/workers/sandbox/boxUser.ts';
import { chooseSandbox, DEFAULT_BOX_USER, logProcessLimit } from '../../src/workers/sandbox/choose.ts';
import { locatePidsCgroup, prepareCgroupV2, probeProcessLimit, rlimitOnly, type ProcessLimit } from '../../src/workers/sandbox/processLimit.ts';
import { bwrapSandbox, DEFAULT_LIMITS, type Sandbox, type SandboxLimits } from '../../src/workers/sandbox/sandbox.ts';

// The box itself, driven without the listener, as root (CI's first run) and
// as an ordinary user (its second run, .ci/run): what holds must hold for both.

const root = process.getuid?.() === 0;

async function workDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'orch-box-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs one command in the box and releases what it made; resolves to its exit code and combined output. */
function run(sandbox: Sandbox, command: string, dir: string, limits: Partial<SandboxLimits> = {}): Promise<{ code: number | null; output: string }> {
  const cmd = sandbox.wrap({ command, binds: { writable: [dir], readOnly: [] }, env: { PATH: '/usr/bin:/bin' }, limits: { ...DEFAULT_LIMITS, ...limits } });
  return new Promise((resolve, reject) => {
    const user = cmd.uid === undefined ? {} : { uid: cmd.uid, gid: cmd.gid ?? cmd.uid };
    const child = spawn(cmd.file, cmd.args, { cwd: cmd.cwd, env: cmd.env, stdio: ['ignore', 'pipe', 'pipe'], ...user });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      void (cmd.release?.() ?? Promise.resolve()).then(() => resolve({ code, output }), reject);
    });
  });
}

let limit: ProcessLimit;
let box: Sandbox;
beforeAll(async () => {
  limit = await probeProcessLimit();
  box = bwrapSandbox('bwrap', limit);
});

describe('the box grants no privilege, whoever starts it', () => {
  it('every capability set of every process inside is empty, and no-new-privileges is set', async () => {
    const dir = await workDir();
    const { code, output } = await run(box, 'sleep 5 & for p in /proc/[0-9]*; do grep -E "^(Cap(Eff|Prm|Bnd|Amb|Inh)|NoNewPrivs):" $p/status; done', dir);
    expect(code).toBe(0);
    const lines = output.trim().split('\n');
    // pid 1 (bwrap's init), bash and the sleep at least.
    expect(lines.filter((l) => l.startsWith('CapEff:')).length).toBeGreaterThanOrEqual(3);
    for (const line of lines) {
      if (line.startsWith('NoNewPrivs:')) expect(line).toMatch(/\t1$/);
      else expect(line).toMatch(/\t0{16}$/);
    }
  });

  it('cannot remount a read-only bind, mount anything, make a user namespace or open a raw socket', async () => {
    const dir = await workDir();
    const mark = `orch-box-${Math.random().toString(36).slice(2, 10)}`;
    const { output } = await run(
      box,
      [
        `mount -o remount,bind,rw /usr && touch /usr/share/${mark}; echo "remount=$?"`,
        'mount -t tmpfs none /tmp; echo "mount=$?"',
        'unshare -U true; echo "unshare=$?"',
        'unshare -Urm true; echo "unshare-mount=$?"',
        `perl -MSocket -e 'socket(my $s, PF_INET, SOCK_RAW, 1) or die "raw: $!\\n"; print "raw opened\\n"'; echo "raw=$?"`,
      ].join('; '),
      dir,
    );
    expect(output).toMatch(/remount=[1-9]/);
    expect(output).toMatch(/\nmount=[1-9]/);
    expect(output).toMatch(/unshare=[1-9]/);
    expect(output).toMatch(/unshare-mount=[1-9]/);
    expect(output).toMatch(/raw: Operation not permitted/);
    expect(output).not.toContain('raw opened');
    expect(existsSync(`/usr/share/${mark}`)).toBe(false);
  });
});

describe('the box is bounded', () => {
  it('its /tmp holds tmpBytes and no more: a larger write fails with ENOSPC', async () => {
    const dir = await workDir();
    const { code, output } = await run(box, 'head -c 3000000 /dev/zero > /tmp/big; echo "rc=$?"; stat -c "size=%s" /tmp/big', dir, {
      tmpBytes: 1024 ** 2,
    });
    expect(code).toBe(0);
    expect(output).toMatch(/No space left on device/);
    expect(output).toMatch(/rc=1/);
    expect(Number(/size=(\d+)/.exec(output)?.[1])).toBeLessThanOrEqual(1024 ** 2);
  });

  it(`holds the process limit (here: ${root ? 'root' : 'an ordinary user'})`, async () => {
    // Root only has a limit through a pids cgroup: a machine without a writable one fails here, naming why.
    expect(limit.mechanism, `no process limit is in force: ${limit.detail}`).not.toBe('none');
    if (root) expect(limit.mechanism).toMatch(/^cgroup-v[12]$/);
    const dir = await workDir();
    // bash gives up at the first fork that fails; each started sleep is written down first, by a builtin.
    await run(box, 'for i in $(seq 2000); do sleep 5 & echo $! >> started; done 2>/dev/null', dir, { processes: 32 });
    const counted = await run(box, 'wc -l < started', dir);
    const started = Number(counted.output.trim());
    expect(started).toBeGreaterThan(4);
    expect(started).toBeLessThanOrEqual(32);
  }, 60_000);

  it('removes the cgroup of each command, also of one killed mid-way (without a cgroup: makes none)', async () => {
    if (!limit.mechanism.startsWith('cgroup')) {
      // An ordinary user holds the limit by RLIMIT_NPROC: no cgroup is made, so none is left to release.
      expect(limit.mechanism).toBe('rlimit');
      const cmd = box.wrap({ command: 'true', binds: { writable: [await workDir()], readOnly: [] }, env: { PATH: '/usr/bin:/bin' }, limits: DEFAULT_LIMITS });
      expect(cmd.release).toBeUndefined();
      return;
    }
    const base = /under (\S+)/.exec(limit.detail)?.[1] ?? '';
    const mine = () => readdirSync(base).filter((n) => n.startsWith(`orch-box-${process.pid}-`));
    const dir = await workDir();
    const cmd = box.wrap({
      command: 'for i in 1 2 3 4 5 6 7 8; do sleep 30 & done; echo started; wait',
      binds: { writable: [dir], readOnly: [] },
      env: { PATH: '/usr/bin:/bin' },
      limits: { ...DEFAULT_LIMITS, processes: 32 },
    });
    const [made] = mine();
    expect(made).toBeDefined();
    const child = spawn(cmd.file, cmd.args, { cwd: cmd.cwd, env: cmd.env, stdio: ['ignore', 'pipe', 'inherit'], detached: true });
    await new Promise((r) => child.stdout.once('data', r));
    // The sleeps, bash and bwrap are all counted in the command's cgroup.
    expect(Number(readFileSync(path.join(base, made!, 'pids.current'), 'utf8'))).toBeGreaterThanOrEqual(10);
    process.kill(-child.pid!, 'SIGKILL');
    await new Promise((r) => child.on('close', r));
    await cmd.release?.();
    expect(mine()).toEqual([]);
  }, 30_000);
});

describe('start-up says which process limit is in force', () => {
  it('logs the mechanism, and warns when nothing holds the limit', async () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    });
    const logger = createLogger('info', { pretty: false, destination });
    const sandbox = await chooseSandbox({ model: 'anthropic', unsafeNoSandbox: false, logger });
    expect(sandbox.processLimit).toBe(limit.mechanism);
    logProcessLimit(logger, sandbox);
    expect(lines.join('')).toContain(`"process_limit":"${limit.mechanism}"`);
    const unenforced: ProcessLimit = { mechanism: 'none', detail: 'test', confine: (r) => r };
    logProcessLimit(logger, await chooseSandbox({ model: 'anthropic', unsafeNoSandbox: false, logger, processLimit: unenforced }));
    expect(lines.join('')).toMatch(/"level":40[^\n]*Bash process limit NOT enforced/);
  });
});

describe('a listener at start-up', () => {
  it('logs which process limit its Bash commands get', async () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    });
    const { orchestrator } = await startTestOrchestrator({}, { logger: createLogger('info', { pretty: false, destination }) });
    await orchestrator.stop();
    const line = lines.find((l) => l.includes('Bash process limit'));
    expect(line).toContain(`"process_limit":"${limit.mechanism}"`);
  }, 30_000);
});

describe('locatePidsCgroup', () => {
  it('finds the v1 pids hierarchy, a cgroup v2 one, or says why not', () => {
    const v1Mounts =
      '30 25 0:27 / /sys/fs/cgroup/pids rw,relatime shared:9 - cgroup cgroup rw,pids\n31 25 0:28 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n';
    expect(locatePidsCgroup('8:pids:/a/b\n4:memory:/x\n', v1Mounts)).toEqual({ version: 1, base: '/sys/fs/cgroup/pids/a/b' });
    const v2Mounts = '40 30 0:40 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n';
    expect(locatePidsCgroup('0::/system.slice/orch.service\n', v2Mounts)).toEqual({ version: 2, base: '/sys/fs/cgroup/system.slice/orch.service' });
    // A container that sees only its own part of the hierarchy (mount root /docker/abc).
    const nested = '40 30 0:40 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n';
    expect(locatePidsCgroup('0::/docker/abc/app\n', nested)).toEqual({ version: 2, base: '/sys/fs/cgroup/app' });
    expect(locatePidsCgroup('8:pids:/a\n', v2Mounts)).toMatch(/not mounted/);
    expect(locatePidsCgroup('', v1Mounts)).toMatch(/no pids cgroup/);
  });
});

describe('prepareCgroupV2', () => {
  // A folder of plain files standing in for a cgroup v2 directory: what is read and what is written.
  async function fakeCgroup(files: Record<string, string>): Promise<string> {
    const dir = await workDir();
    for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
    return dir;
  }

  it('uses a subtree that already passes pids on, as it is', async () => {
    const base = await fakeCgroup({ 'cgroup.controllers': 'cpu pids\n', 'cgroup.subtree_control': 'pids\n', 'cgroup.procs': '' });
    expect(prepareCgroupV2(base, 4242)).toBeUndefined();
    expect(existsSync(path.join(base, 'orch-listener'))).toBe(false);
  });

  it('moves a listener alone in its cgroup into a leaf, then passes pids on to the boxes', async () => {
    const base = await fakeCgroup({ 'cgroup.controllers': 'cpu pids\n', 'cgroup.subtree_control': '\n', 'cgroup.procs': '4242\n' });
    expect(prepareCgroupV2(base, 4242)).toBeUndefined();
    expect(readFileSync(path.join(base, 'orch-listener', 'cgroup.procs'), 'utf8')).toBe('4242');
    expect(readFileSync(path.join(base, 'cgroup.subtree_control'), 'utf8')).toBe('+pids');
  });

  it('leaves a cgroup shared with other processes, or without pids, as it is and says why', async () => {
    const shared = await fakeCgroup({ 'cgroup.controllers': 'pids\n', 'cgroup.subtree_control': '\n', 'cgroup.procs': '4242\n77\n' });
    expect(prepareCgroupV2(shared, 4242)).toMatch(/holds other processes \(77\)/);
    expect(readFileSync(path.join(shared, 'cgroup.subtree_control'), 'utf8')).toBe('\n');
    const noPids = await fakeCgroup({ 'cgroup.controllers': 'cpu memory\n', 'cgroup.subtree_control': '\n', 'cgroup.procs': '4242\n' });
    expect(prepareCgroupV2(noPids, 4242)).toMatch(/pids controller is not delegated.*cpu memory/);
  });
});

describe('the uid mechanism (a root listener without a writable pids cgroup)', () => {
  const silent = createLogger('silent', { pretty: false });
  /** A workspace every user may enter (mkdtemp makes 0700), as a real one under /var would be. */
  async function openWorkspace(): Promise<string> {
    const dir = await workDir();
    chmodSync(dir, 0o755);
    return dir;
  }

  if (root) {
    it('runs the box as the box uid, with no capability, and holds the process limit', async () => {
      const workspace = await openWorkspace();
      const sandbox = await chooseSandbox({ model: 'anthropic', unsafeNoSandbox: false, logger: silent, processLimitChoice: 'uid', workspace });
      expect(sandbox.processLimit).toBe('uid');
      expect(sandbox.boxUser).toEqual(DEFAULT_BOX_USER);
      const dir = path.join(workspace, 'task-1');
      await openToBox(sandbox, dir);
      const who = await run(sandbox, 'id -u; id -g; grep -E "^(CapEff|Groups):" /proc/self/status; echo made > made', dir);
      expect(who.code).toBe(0);
      // No supplementary group of root's comes along (libuv drops them when it sets the uid).
      expect(who.output).toMatch(new RegExp(`^${DEFAULT_BOX_USER.uid}\n${DEFAULT_BOX_USER.gid}\nGroups:\\s*\nCapEff:\t0{16}\n$`));
      // What the box made is its uid's; root reads it.
      expect(statSync(path.join(dir, 'made')).uid).toBe(DEFAULT_BOX_USER.uid);
      const bomb = await run(sandbox, 'for i in $(seq 2000); do sleep 5 & echo $! >> started; done 2>/dev/null; wc -l < started', dir, { processes: 48 });
      const started = Number(readFileSync(path.join(dir, 'started'), 'utf8').trim().split('\n').length);
      expect(bomb.code).not.toBe(0);
      expect(started).toBeGreaterThan(4);
      expect(started).toBeLessThanOrEqual(48);
    }, 30_000);

    it('lets the box write what root made in a folder opened to it, and root edit what the box made', async () => {
      const workspace = await openWorkspace();
      const sandbox = await chooseSandbox({ model: 'anthropic', unsafeNoSandbox: false, logger: silent, processLimitChoice: 'uid', workspace });
      const dir = path.join(workspace, 'task-2');
      await openToBox(sandbox, dir);
      // As the file tools and git create them: asked 0o666 (the umask is ignored under the default ACL).
      writeFileSync(path.join(dir, 'from-root'), 'root\n', { mode: 0o666 });
      const r = await run(sandbox, 'echo box >> from-root && mkdir sub && echo box > sub/from-box && ls -ld sub', dir);
      expect(r.code).toBe(0);
      expect(readFileSync(path.join(dir, 'from-root'), 'utf8')).toBe('root\nbox\n');
      writeFileSync(path.join(dir, 'sub', 'from-box'), 'edited by root\n');
      expect(readFileSync(path.join(dir, 'sub', 'from-box'), 'utf8')).toBe('edited by root\n');
      // Nobody else got write access: `other` keeps r only.
      expect(statSync(path.join(dir, 'from-root')).mode & 0o007).toBe(0o004);
    }, 30_000);

    it('refuses a workspace the box uid cannot reach, naming what to chmod', async () => {
      const closed = await workDir(); // 0700, as mkdtemp makes it
      const workspace = path.join(closed, 'workspace');
      mkdirSync(workspace, { mode: 0o755 });
      await expect(
        chooseSandbox({ model: 'anthropic', unsafeNoSandbox: false, logger: silent, processLimitChoice: 'uid', workspace }),
      ).rejects.toThrow(new RegExp(`--box-process-limit uid: .*cannot enter ${closed}.*chmod o\\+x ${closed}`));
      // Left to itself (auto), a listener without a cgroup warns instead, saying why and what to chmod.
      const lines: string[] = [];
      const logger = createLogger('info', { pretty: false, destination: new Writable({ write: (c: Buffer, _e, done) => (lines.push(c.toString()), done()) }) });
      const sandbox = await chooseSandbox({ model: 'anthropic', unsafeNoSandbox: false, logger, probeCgroup: async () => rlimitOnly(), workspace });
      expect(sandbox.processLimit).toBe('none');
      expect(sandbox.boxUser).toBeUndefined();
      logProcessLimit(logger, sandbox);
      expect(lines.join('')).toMatch(new RegExp(`"level":40[^\n]*no box uid either: [^\n]*chmod o\\+x ${closed}[^\n]*Bash process limit NOT enforced`));
    }, 30_000);

    it('is what auto picks for root when no pids cgroup can be made, and a listener says so at start-up', async () => {
      const workspace = await openWorkspace();
      const sandbox = await chooseSandbox({ model: 'anthropic', unsafeNoSandbox: false, logger: silent, probeCgroup: async () => rlimitOnly(), workspace });
      expect(sandbox.processLimit).toBe('uid');
      // Where a cgroup can be made, auto keeps it.
      const cgroup = await chooseSandbox({ model: 'anthropic', unsafeNoSandbox: false, logger: silent, workspace });
      expect(cgroup.processLimit).toBe(limit.mechanism);
      const lines: string[] = [];
      const destination = new Writable({ write: (c: Buffer, _e, done) => (lines.push(c.toString()), done()) });
      const { orchestrator } = await startTestOrchestrator({ boxProcessLimit: 'uid', workspace }, { logger: createLogger('info', { pretty: false, destination }) });
      await orchestrator.stop();
      expect(lines.find((l) => l.includes('Bash process limit'))).toMatch(/"process_limit":"uid".*RLIMIT_NPROC of uid 64923/);
    }, 30_000);
  } else {
    it('is refused for an ordinary user, who has RLIMIT_NPROC', async () => {
      const workspace = await openWorkspace();
      const sandbox = await chooseSandbox({ model: 'anthropic', unsafeNoSandbox: false, logger: silent, workspace });
      expect(sandbox.processLimit).not.toBe('uid');
      expect(sandbox.processLimit).toBe(limit.mechanism);
      const forced = await chooseSandbox({ model: 'anthropic', unsafeNoSandbox: false, logger: silent, processLimitChoice: 'rlimit', workspace });
      expect(forced.processLimit).toBe('rlimit');
      expect(forced.boxUser).toBeUndefined();
      await expect(
        chooseSandbox({ model: 'anthropic', unsafeNoSandbox: false, logger: silent, processLimitChoice: 'uid', workspace }),
      ).rejects.toThrow(/--box-process-limit uid: the listener runs as uid \d+, not root/);
    });
  }

  it('cannot be combined with --unsafe-no-sandbox', async () => {
    await expect(
      chooseSandbox({ model: 'anthropic', unsafeNoSandbox: true, logger: createLogger('silent', { pretty: false }), processLimitChoice: 'uid' }),
    ).rejects.toThrow(/--box-process-limit uid needs the bubblewrap sandbox/);
  });
});
