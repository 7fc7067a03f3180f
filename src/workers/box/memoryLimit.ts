import { mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { SandboxedCommand } from '../sandbox/command.ts';

// A memory cgroup per box, where the listener can make one (cgroup v1's
// memory hierarchy, as root here): every process of the box together, and
// the pages of its tmpfs layer and /tmp, stay under one limit the kernel
// holds (the OOM killer acts inside the box only). Elsewhere each process
// keeps its RLIMIT_AS (the Bash prologue's ulimit -v) and the tmpfs sizes
// bound the files.

export interface MemoryLimit {
  /** Where the cgroups go. */
  readonly detail: string;
  /** Starts `run` inside a fresh memory cgroup of `bytes`; its `release` removes it. */
  confine(run: SandboxedCommand, bytes: number): SandboxedCommand;
}

const PREFIX = 'orch-box-mem-';
const ENTER = 'echo $$ > "$1/cgroup.procs" || { echo "could not enter the memory cgroup $1" >&2; exit 125; }; shift; exec "$@"';

/** The listener's v1 memory cgroup folder, or why there is none. */
function locate(cgroupFile: string, mountinfo: string): string {
  const line = cgroupFile.split('\n').find((l) => /^\d+:([^:]*,)?memory(,[^:]*)?:/.test(l));
  if (line === undefined) throw new Error('no cgroup v1 memory hierarchy (cgroup v2 memory limits are not used by the box)');
  const own = line.slice(line.indexOf(':', line.indexOf(':') + 1) + 1);
  for (const mount of mountinfo.split('\n')) {
    const [left, right] = mount.split(' - ');
    if (left === undefined || right === undefined) continue;
    const [type, , options = ''] = right.split(' ');
    if (type !== 'cgroup' || !options.split(',').includes('memory')) continue;
    const fields = left.split(' ');
    const root = fields[3] ?? '/';
    const point = fields[4] ?? '';
    if (root === '/') return path.join(point, own);
    if (own === root || own.startsWith(`${root}/`)) return path.join(point, own.slice(root.length));
  }
  throw new Error('the cgroup v1 memory hierarchy is not mounted here');
}

async function remove(dir: string): Promise<void> {
  for (let waited = 0; waited < 5000; waited += 20) {
    try {
      rmdirSync(dir);
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY') throw error;
    }
    try {
      for (const pid of readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) process.kill(Number(pid), 'SIGKILL');
    } catch {
      // gone meanwhile
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`could not remove the memory cgroup ${dir}: processes are still in it after 5 s`);
}

/** Removes the memory cgroups of listeners that are gone. */
function sweep(base: string): void {
  for (const name of readdirSync(base)) {
    const m = new RegExp(`^${PREFIX}(\\d+)-`).exec(name);
    if (m === null) continue;
    try {
      process.kill(Number(m[1]), 0);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') continue;
      try {
        rmdirSync(path.join(base, name));
      } catch {
        // still busy: the next sweep
      }
    }
  }
}

/** A memory cgroup per box if one can be made here (tried once), else the reason. */
export function probeMemoryLimit(proc = '/proc/self'): MemoryLimit | string {
  let base: string;
  try {
    base = locate(readFileSync(path.join(proc, 'cgroup'), 'utf8'), readFileSync(path.join(proc, 'mountinfo'), 'utf8'));
  } catch (error) {
    return (error as Error).message;
  }
  let counter = 0;
  const make = (bytes: number): string => {
    const dir = path.join(base, `${PREFIX}${process.pid}-${++counter}`);
    mkdirSync(dir);
    try {
      writeFileSync(path.join(dir, 'memory.limit_in_bytes'), String(bytes));
    } catch (error) {
      rmdirSync(dir);
      throw error;
    }
    return dir;
  };
  try {
    sweep(base);
    rmdirSync(make(64 * 1024 ** 2));
  } catch (error) {
    return `cannot make a memory cgroup under ${base}: ${(error as Error).message}`;
  }
  return {
    detail: `a memory cgroup per box under ${base}`,
    confine(run, bytes) {
      const dir = make(bytes);
      const previous = run.release;
      return {
        ...run,
        file: '/bin/sh',
        args: ['-c', ENTER, 'orch-box-mem', dir, run.file, ...run.args],
        release: async () => {
          await previous?.();
          await remove(dir);
        },
      };
    },
  };
}
