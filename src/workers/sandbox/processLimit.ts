import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SandboxedCommand } from './command.ts';

/**
 * How the process limit of one Bash command (`bashMaxProcesses`) is held:
 * - `cgroup-v1`, `cgroup-v2`: each command runs in a cgroup of its own whose
 *   `pids.max` is the limit; the kernel holds it for every uid, root included.
 * - `rlimit`: RLIMIT_NPROC (`ulimit -u`) only; enough for a listener that is
 *   not root, since the box's processes are counted in its own user namespace.
 * - `uid`: the listener is root without a writable pids cgroup; the box's
 *   processes run as a dedicated unprivileged uid/gid (`boxUid`), so their
 *   real uid is not 0 and RLIMIT_NPROC holds. The task's writable folders
 *   are opened to that uid with POSIX ACLs (boxUser.ts).
 * - `none`: the listener is root and has no writable pids cgroup; the kernel
 *   skips RLIMIT_NPROC for root, so nothing bounds the number of processes.
 */
export type ProcessLimitMechanism = 'cgroup-v1' | 'cgroup-v2' | 'uid' | 'rlimit' | 'none';

/** What an operator (or a test) may ask for; `auto` picks cgroup, then uid (root), then rlimit. */
export type ProcessLimitChoice = 'auto' | 'cgroup' | 'uid' | 'rlimit';

/** The unprivileged user a `uid` box runs as. */
export interface BoxUser {
  uid: number;
  gid: number;
}

export interface ProcessLimit {
  readonly mechanism: ProcessLimitMechanism;
  /** Where the cgroups go, or why there are none: for the start-up log. */
  readonly detail: string;
  /**
   * Starts `run` inside a fresh cgroup capped at `processes` (a no-op for
   * `rlimit` and `none`). Call `release` once the command has exited, killed
   * or not: it kills what is left in the cgroup and removes it.
   */
  confine(run: SandboxedCommand, processes: number): SandboxedCommand;
  /** `uid` only: who the box's processes run as; every writable bind must be opened to it first (grantBoxUser). */
  readonly boxUser?: BoxUser;
}

/**
 * The `uid` mechanism: bwrap is started as `user` (Node's spawn uid/gid;
 * libuv drops the supplementary groups when it sets them), so the box's real
 * uid is not root and the kernel counts and bounds its processes.
 */
export function boxUserLimit(user: BoxUser): ProcessLimit {
  return {
    mechanism: 'uid',
    detail: `RLIMIT_NPROC of uid ${user.uid}: each box runs as uid ${user.uid}, gid ${user.gid}, the task's folders opened to it by ACL`,
    boxUser: user,
    confine: (run) => ({ ...run, uid: user.uid, gid: user.gid }),
  };
}

/** RLIMIT_NPROC only (the `ulimit -u` of the prologue). */
export function rlimitOnly(): ProcessLimit {
  const root = process.getuid?.() === 0;
  return {
    mechanism: root ? 'none' : 'rlimit',
    detail: root
      ? 'the listener runs as root, for whom the kernel skips RLIMIT_NPROC'
      : `RLIMIT_NPROC of uid ${process.getuid?.() ?? '?'}, counted in each box's own user namespace`,
    confine: (run) => run,
  };
}

/** Prefix of every cgroup made here: `orch-box-{listener pid}-{n}`. */
const PREFIX = 'orch-box-';

/**
 * The writer: a shell that moves itself into the cgroup, then execs the
 * command, so the command and all it starts are counted from the first fork.
 */
const ENTER =
  'echo $$ > "$1/cgroup.procs" || { echo "could not enter the process-limit cgroup $1" >&2; exit 125; }; shift; exec "$@"';

interface CgroupPlace {
  version: 1 | 2;
  /** The folder the per-command cgroups are made in. */
  base: string;
}

/** `/proc/self/mountinfo` line fields we need: mount point, root within the hierarchy, fs type, super options. */
function mounts(mountinfo: string): { root: string; point: string; type: string; options: string[] }[] {
  return mountinfo.split('\n').flatMap((line) => {
    const [left, right] = line.split(' - ');
    if (left === undefined || right === undefined) return [];
    const fields = left.split(' ');
    const [type = '', , superOptions = ''] = right.split(' ');
    const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
    return [{ root: unescape(fields[3] ?? ''), point: unescape(fields[4] ?? ''), type, options: superOptions.split(',') }];
  });
}

/**
 * The listener's own pids cgroup folder from `/proc/self/cgroup` and
 * `/proc/self/mountinfo`: the v1 pids hierarchy when there is one, else the
 * v2 hierarchy when it offers the pids controller. Undefined with the reason
 * otherwise.
 */
export function locatePidsCgroup(cgroupFile: string, mountinfo: string): CgroupPlace | string {
  const lines = cgroupFile.split('\n').flatMap((line) => {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    return m ? [{ controllers: m[2]!.split(','), path: m[3]! }] : [];
  });
  const all = mounts(mountinfo);
  const inside = (mount: { root: string; point: string }, path: string): string | undefined => {
    if (mount.root === '/') return join(mount.point, path);
    if (path === mount.root || path.startsWith(`${mount.root}/`)) return join(mount.point, path.slice(mount.root.length));
    return undefined;
  };
  const v1 = lines.find((l) => l.controllers.includes('pids'));
  if (v1) {
    for (const mount of all.filter((m) => m.type === 'cgroup' && m.options.includes('pids'))) {
      const base = inside(mount, v1.path);
      if (base !== undefined) return { version: 1, base };
    }
    return 'the pids cgroup (v1) is not mounted here';
  }
  const v2 = lines.find((l) => l.controllers.length === 1 && l.controllers[0] === '');
  if (v2) {
    for (const mount of all.filter((m) => m.type === 'cgroup2')) {
      const base = inside(mount, v2.path);
      if (base !== undefined) return { version: 2, base };
    }
    return 'the cgroup v2 hierarchy is not mounted here';
  }
  return 'this process is in no pids cgroup';
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * cgroup v2 lets a cgroup pass a controller to children only while it holds
 * no process itself. When the listener is alone in its cgroup (a container),
 * it moves into a leaf `orch-listener` beside the boxes and enables pids for
 * the children; with other processes there it gives up (their placement is
 * not the listener's to change).
 */
export function prepareCgroupV2(base: string, pid = process.pid): string | undefined {
  const controllers = readFileSync(join(base, 'cgroup.controllers'), 'utf8').split(/\s+/);
  if (!controllers.includes('pids')) return `the pids controller is not delegated to ${base} (cgroup.controllers: ${controllers.join(' ').trim() || 'none'})`;
  if (readFileSync(join(base, 'cgroup.subtree_control'), 'utf8').split(/\s+/).includes('pids')) return undefined;
  const procs = readFileSync(join(base, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  const others = procs.filter((p) => p !== pid);
  if (others.length > 0) {
    return `${base} holds other processes (${others.slice(0, 5).join(', ')}), so pids cannot be enabled for its children; start the listener in a cgroup of its own whose pids controller it may delegate`;
  }
  const leaf = join(base, 'orch-listener');
  mkdirSync(leaf, { recursive: true });
  writeFileSync(join(leaf, 'cgroup.procs'), String(pid));
  writeFileSync(join(base, 'cgroup.subtree_control'), '+pids');
  return undefined;
}

function runIn(dir: string, file: string, args: string[]): Promise<{ error: Error | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('/bin/sh', ['-c', ENTER, 'orch-box', dir, file, ...args], { timeout: 10_000 }, (error, stdout, stderr) =>
      resolve({ error, stdout, stderr }),
    );
  });
}

/** Kills what is left in a command's cgroup and removes it; retries while the kernel is still reaping. */
async function removeCgroup(dir: string, version: 1 | 2): Promise<void> {
  // The kernel is usually done reaping within a few milliseconds of bwrap's exit: look again soon, then less often.
  for (let attempt = 0, waited = 0; waited < 5000; attempt++) {
    try {
      rmdirSync(dir);
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY') throw error;
    }
    try {
      if (version === 2) writeFileSync(join(dir, 'cgroup.kill'), '1');
      else {
        for (const pid of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
          try {
            process.kill(Number(pid), 'SIGKILL');
          } catch {
            // gone already
          }
        }
      }
    } catch {
      // the folder went away, or cgroup.kill is missing (kernel < 5.14): the pid namespace's end kills them anyway
    }
    const pause = Math.min(50, 2 ** attempt);
    waited += pause;
    await new Promise((r) => setTimeout(r, pause));
  }
  throw new Error(`could not remove the process-limit cgroup ${dir}: processes are still in it after 5 s`);
}

/** Removes the cgroups of listeners that are gone (killed before they could clean up). */
function sweep(base: string): void {
  for (const name of readdirSync(base)) {
    const m = new RegExp(`^${PREFIX}(\\d+)-`).exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch (error) {
      alive = (error as NodeJS.ErrnoException).code !== 'ESRCH';
    }
    if (pid === process.pid || alive) continue;
    try {
      rmdirSync(join(base, name));
    } catch {
      // still populated, or raced with another sweeper: left for the next start
    }
  }
}

/**
 * Finds out at start-up how the process limit can be held here: a fresh
 * pids cgroup per command where this process may make one (it is tried for
 * real: a probe process must land in it), else RLIMIT_NPROC. Never throws;
 * `mechanism` says what is in force and `detail` why.
 */
export async function probeProcessLimit(proc = '/proc/self'): Promise<ProcessLimit> {
  const fallback = rlimitOnly();
  let place: CgroupPlace | string;
  try {
    place = locatePidsCgroup(readFileSync(join(proc, 'cgroup'), 'utf8'), readFileSync(join(proc, 'mountinfo'), 'utf8'));
  } catch (error) {
    place = `cannot read ${proc}/cgroup: ${message(error)}`;
  }
  const without = (why: string): ProcessLimit => ({ ...fallback, detail: `${fallback.detail}; no pids cgroup: ${why}` });
  if (typeof place === 'string') return without(place);
  const { base, version } = place;
  let counter = 0;
  const make = (processes: number): string => {
    const dir = join(base, `${PREFIX}${process.pid}-${++counter}`);
    mkdirSync(dir);
    try {
      writeFileSync(join(dir, 'pids.max'), String(processes));
    } catch (error) {
      rmdirSync(dir);
      throw error;
    }
    return dir;
  };
  try {
    if (version === 2) {
      const problem = prepareCgroupV2(base);
      if (problem !== undefined) return without(problem);
    }
    sweep(base);
    const dir = make(8);
    try {
      const probe = await runIn(dir, 'cat', ['/proc/self/cgroup']);
      const relative = dir.slice(base.length);
      if (probe.error !== null || !probe.stdout.split('\n').some((l) => l.endsWith(relative))) {
        return without(`a probe process did not land in ${dir}: ${probe.stderr.trim() || probe.error?.message || probe.stdout.trim()}`);
      }
    } finally {
      await removeCgroup(dir, version);
    }
  } catch (error) {
    return without(`cannot make a cgroup under ${base}: ${message(error)}`);
  }
  return {
    mechanism: version === 1 ? 'cgroup-v1' : 'cgroup-v2',
    detail: `a pids cgroup per command under ${base}`,
    confine(run, processes) {
      let dir: string;
      try {
        dir = make(processes);
      } catch (error) {
        throw new Error(`could not make the process-limit cgroup under ${base} (${message(error)}): was it removed or made read-only since start-up?`);
      }
      const previous = run.release;
      return {
        file: '/bin/sh',
        args: ['-c', ENTER, 'orch-box', dir, run.file, ...run.args],
        env: run.env,
        cwd: run.cwd,
        release: async () => {
          await previous?.();
          await removeCgroup(dir, version);
        },
      };
    },
  };
}
