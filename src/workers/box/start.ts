import { spawn } from 'node:child_process';
import { mkdtempSync, rmdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { probeProcessLimit, rlimitOnly, type ProcessLimit } from '../sandbox/processLimit.ts';
import { systemBinds } from '../sandbox/sandbox.ts';
import type { WorkspaceSurvey } from '../survey.ts';
import type { ToolName } from '../tools/tool.ts';
import type { SandboxedCommand } from '../sandbox/command.ts';
import { serverBundle } from './bundle.ts';
import { BoxConnection } from './connection.ts';
import { probeMemoryLimit, type MemoryLimit } from './memoryLimit.ts';
import { BoxFailedError, BoxOperationError, BoxUnavailableError } from './errors.ts';
import { callResult, layerEntry, runResult, surveyResult, wireFile, type ServerConfig } from './protocol.ts';
import type { BoxFile, BoxOptions, StartBox, TaskBox } from './types.ts';

// The listener's side of a task box. One box: `unshare` (util-linux) makes
// a user and a mount namespace (the listener's uid mapped to root there),
// in which a short shell script mounts a tmpfs of `layerBytes` holding the
// layer (the overlay's upper and work folders), the overlay view over the
// lower layers, and a read-only overlay of the lower layers alone; then it
// execs bubblewrap, which confines the tool server as it confines a Bash
// command today. The mounts exist only in that namespace: when its last
// process goes, they go. bwrap dies with the listener (--die-with-parent)
// and takes its pid namespace with it; the server exits on stdin EOF.

/** Inside the box: the layer, the lower view, the server's code, the proxy's socket. */
const INSIDE = { layer: '/run/orch/layer', base: '/run/orch/base', server: '/run/orch/server', proxy: '/run/orch-proxy.sock' } as const;

/** Processes and threads of the tool server itself (Node's own threads, the tool threads), on top of `limits.processes`. */
export const SERVER_PROCESSES = 64;

/** How long a box may take to say it is ready. */
const START_TIMEOUT_MS = 20_000;

/**
 * Runs in the box's new namespaces: $1 the folder to mount on, $2 the
 * layer's size in bytes, $3 the lower folders (overlayfs order, `:`
 * joined), then the command to exec. The read-only `base` overlay needs two
 * lower folders at least: an empty one goes under the rest.
 */
export const SETUP = [
  'set -e',
  'B=$1; SIZE=$2; LOWER=$3; shift 3',
  'mount -t tmpfs -o "size=$SIZE,mode=0755" orch-layer "$B"',
  'mkdir "$B/upper" "$B/work" "$B/view" "$B/base" "$B/empty"',
  'mount -t overlay orch-view -o "lowerdir=$LOWER,upperdir=$B/upper,workdir=$B/work,userxattr" "$B/view"',
  'mount -t overlay orch-base -o "ro,lowerdir=$LOWER:$B/empty,userxattr" "$B/base"',
  'exec "$@"',
].join('\n');

/** Memory of the tool server itself (Node and its tool threads), on top of `limits.memoryBytes` in a box's memory cgroup. */
export const SERVER_MEMORY_BYTES = 256 * 1024 ** 2;

/** What every box of this listener shares: how its processes and memory are bounded. */
export interface BoxHost {
  processLimit: ProcessLimit;
  /** A memory cgroup per box, or why there is none (each process then keeps its RLIMIT_AS). */
  memory: MemoryLimit | string;
  bwrap: string;
  unshare: string;
}

let host: Promise<BoxHost | string> | undefined;

/**
 * The process limit a box gets, decided once: a pids cgroup per box where
 * one can be made (the kernel holds it for every uid); for an ordinary user
 * RLIMIT_NPROC. A root listener without a writable pids cgroup gets no box
 * (its unprivileged-uid fallback would leave the project's files, owned by
 * root, read-only to the box): the reason says so, and the caller falls back.
 */
export function boxHost(): Promise<BoxHost | string> {
  host ??= (async () => {
    const tools = { bwrap: 'bwrap', unshare: 'unshare', memory: probeMemoryLimit() };
    if (process.getuid?.() !== 0) return { processLimit: rlimitOnly(), ...tools };
    const limit = await probeProcessLimit();
    if (limit.mechanism === 'cgroup-v1' || limit.mechanism === 'cgroup-v2') return { processLimit: limit, ...tools };
    return `the listener runs as root and cannot make a pids cgroup (${limit.detail}), so nothing would bound a box's processes: run it as an ordinary user, or give it a writable pids cgroup`;
  })();
  return host;
}

/** One line for the start-up log: what bounds a box's processes and memory here, or why there is no box. */
export async function describeBoxHost(): Promise<string> {
  const found = await boxHost();
  if (typeof found === 'string') return `no task boxes: ${found}`;
  const memory = typeof found.memory === 'string' ? `RLIMIT_AS per command (no memory cgroup: ${found.memory})` : found.memory.detail;
  const processes = found.processLimit.mechanism === 'rlimit' ? 'RLIMIT_NPROC per command' : `a pids cgroup per box (${found.processLimit.mechanism})`;
  return `task box processes: ${processes}; memory: ${memory}`;
}

/** Folders a box's view may not appear at: the box's own system folders and mounts. */
const RESERVED = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/etc', '/proc', '/dev', '/tmp', '/run'];

function checkOptions(options: BoxOptions): void {
  const { root, lower, limits } = options;
  if (!path.isAbsolute(root) || path.normalize(root) !== root || root === '/' || root.endsWith('/')) {
    throw new BoxUnavailableError(`the box's root ${JSON.stringify(root)} must be a normalised absolute path other than /`);
  }
  const clash = RESERVED.find((dir) => root === dir || root.startsWith(`${dir}/`) || dir.startsWith(`${root}/`));
  if (clash !== undefined) throw new BoxUnavailableError(`the box's root ${root} would cover or sit in ${clash}, which the box needs for itself: choose another path`);
  if (lower.length === 0) throw new BoxUnavailableError('a box needs one lower layer at least');
  for (const dir of lower) {
    // overlayfs takes `:` and `,` as separators in its options.
    if (!path.isAbsolute(dir) || /[:,\\\n]/.test(dir)) throw new BoxUnavailableError(`the lower layer ${JSON.stringify(dir)} must be an absolute path without : , \\ or a line break`);
    if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw new BoxUnavailableError(`the lower layer ${dir} is not a folder`);
  }
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value <= 0) throw new BoxUnavailableError(`the box limit ${name} must be a positive whole number, not ${value}`);
  }
}

/**
 * bwrap's arguments: today's Bash sandbox hardening around the tool server
 * (or around `command`, for the bench's measure of the view alone).
 */
export function bwrapArgs(options: BoxOptions, mount: string, bundle: string, command?: readonly string[]): string[] {
  const config: ServerConfig = {
    root: options.root,
    layer: INSIDE.layer,
    base: INSIDE.base,
    env: options.env,
    limits: {
      processes: options.limits.processes,
      memoryBytes: options.limits.memoryBytes,
      cpuSeconds: options.limits.cpuSeconds,
      fileSizeBytes: options.limits.fileSizeBytes,
      tmpBytes: options.limits.tmpBytes,
    },
    layerBytes: options.limits.layerBytes,
    bashTimeoutMs: options.bashTimeoutMs,
    maxOutputBytes: options.maxOutputBytes,
    ...(options.proxySocket === undefined ? {} : { proxySocket: INSIDE.proxy }),
  };
  const node = process.execPath;
  const args = [
    '--unshare-all',
    '--unshare-user',
    '--disable-userns',
    '--cap-drop', 'ALL',
    '--die-with-parent',
    '--new-session',
    ...systemBinds(),
    '--proc', '/proc',
    '--dev', '/dev',
    '--size', String(options.limits.tmpBytes),
    '--tmpfs', '/tmp',
    '--dir', '/run/orch',
    '--bind', path.join(mount, 'view'), options.root,
    '--ro-bind', path.join(mount, 'upper'), INSIDE.layer,
    '--ro-bind', path.join(mount, 'base'), INSIDE.base,
    '--ro-bind', bundle, INSIDE.server,
  ];
  // Node installed outside the system folders (nvm, a tarball): its binary read-only at the same path.
  if (!['/usr/', '/bin/', '/sbin/'].some((dir) => node.startsWith(dir))) args.push('--ro-bind', node, node);
  if (options.proxySocket !== undefined) args.push('--bind', options.proxySocket, INSIDE.proxy);
  args.push('--chdir', options.root, '--clearenv', '--setenv', 'PATH', '/usr/local/bin:/usr/bin:/bin', '--setenv', 'HOME', '/tmp/home');
  args.push('--', ...(command ?? [node, path.join(INSIDE.server, 'server.mjs'), JSON.stringify(config)]));
  return args;
}

const layerList = z.array(layerEntry);
const anything = z.unknown();

/** Starts one task's box and resolves once its tool server is ready. */
export const startBox: StartBox = async (options) => {
  checkOptions(options);
  const found = await boxHost();
  if (typeof found === 'string') throw new BoxUnavailableError(found);
  const bundle = await serverBundle();
  const mount = mkdtempSync(path.join(tmpdir(), `orch-box-mnt-${process.pid}-`));
  let run: SandboxedCommand;
  let pids: SandboxedCommand | undefined;
  try {
    pids = found.processLimit.confine(
      {
        file: found.unshare,
        args: [
          '--user', '--map-root-user', '--mount', '--propagation', 'private', '--',
          '/bin/sh', '-c', SETUP, 'orch-box', mount, String(options.limits.layerBytes), options.lower.join(':'),
          found.bwrap, ...bwrapArgs(options, mount, bundle),
        ],
        env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
        cwd: '/',
      },
      options.limits.processes + SERVER_PROCESSES,
    );
    // The box's files are tmpfs pages, charged to it: its memory cgroup holds its processes' memory and its files.
    const { memoryBytes, tmpBytes, layerBytes } = options.limits;
    run = typeof found.memory === 'string' ? pids : found.memory.confine(pids, memoryBytes + tmpBytes + layerBytes + SERVER_MEMORY_BYTES);
  } catch (error) {
    await pids?.release?.().catch(() => undefined);
    rmdirSync(mount);
    throw new BoxUnavailableError(`the task box's cgroups could not be made: ${(error as Error).message}`, { cause: error });
  }
  const child = spawn(run.file, run.args, { cwd: run.cwd, env: run.env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  // 'close' may not follow an 'error' (unshare missing): either ends the wait.
  const exited = new Promise<void>((resolve) => {
    child.once('close', () => resolve());
    child.once('error', () => resolve());
  });
  const kill = () => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // gone already
    }
  };
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      child.stdin.end();
      kill();
      await exited;
      await run.release?.().catch(() => undefined);
      try {
        rmdirSync(mount); // empty: the tmpfs on it lived in the box's mount namespace only
      } catch {
        // left for the operator: an empty folder, never a mount
      }
    })());
  // A box that stopped or broke its protocol is taken down at once, cgroups and mount folder too; close() then waits for that.
  const connection = new BoxConnection(child, () => void close());
  const timer = setTimeout(() => connection.fail(new BoxFailedError(`the task box did not start within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
  try {
    await connection.whenReady();
  } catch (error) {
    await close();
    throw new BoxUnavailableError(`the task box could not start: ${(error as Error).message}`, { cause: error });
  } finally {
    clearTimeout(timer);
  }
  // A lower file may be larger than what a command may write; the listener holds at most this much of one.
  return taskBox(options.root, connection, close, Math.max(options.limits.fileSizeBytes, 64 * 1024 ** 2));
};

function taskBox(root: string, connection: BoxConnection, close: () => Promise<void>, maxFileBytes: number): TaskBox {
  return {
    root,
    call: (tool: ToolName, input: unknown, signal: AbortSignal) => connection.request({ op: 'call', tool, input }, callResult, signal),
    layer: () => connection.request({ op: 'layer' }, layerList),
    async read(paths) {
      const out: BoxFile[] = [];
      // One file at a time, a large one in parts: no answer is longer than READ_CHUNK_BYTES of content.
      for (const p of paths) out.push(await readOne(connection, p, maxFileBytes));
      return out;
    },
    async write(files) {
      for (const file of files) {
        const wire = { path: file.path, kind: file.kind, ...(file.executable === undefined ? {} : { executable: file.executable }) };
        await connection.request(
          {
            op: 'write',
            file: {
              ...wire,
              ...(file.content === undefined ? {} : { content: file.content.toString('base64') }),
              ...(file.target === undefined ? {} : { target: file.target }),
            },
          },
          anything,
        );
      }
    },
    // JSON has no undefined: an absent packageJson is absent, as WorkspaceSurvey has it.
    survey: async () => (await connection.request({ op: 'survey' }, surveyResult)) as WorkspaceSurvey,
    run: (command, timeoutMs, signal) => connection.request({ op: 'run', command, timeoutMs }, runResult, signal),
    close,
  };
}

/** One path's state, its content gathered part by part; a file that changes meanwhile is read again, once. */
async function readOne(connection: BoxConnection, file: string, maxBytes: number, again = true): Promise<BoxFile> {
  const first = await connection.request({ op: 'read', path: file }, wireFile);
  if (first.path !== file) throw new BoxFailedError(`the task box answered a read of ${file} with ${first.path}`);
  if (first.kind !== 'file' || first.size === undefined) return fromWire(first);
  if (first.size > maxBytes) throw new BoxOperationError(`${file} is ${first.size} bytes, more than the ${maxBytes} bytes a file of the box may hold (fileSizeBytes)`);
  const parts = [Buffer.from(first.content ?? '', 'base64')];
  let have = parts[0]!.length;
  while (have < first.size) {
    const next = await connection.request({ op: 'read', path: file, offset: have }, wireFile);
    if (next.kind !== 'file' || next.version !== first.version || next.offset !== have) {
      if (again) return readOne(connection, file, maxBytes, false);
      throw new BoxOperationError(`${file} kept changing while it was read from the box: read it again once the task is idle`);
    }
    const part = Buffer.from(next.content ?? '', 'base64');
    if (part.length === 0) break;
    parts.push(part);
    have += part.length;
  }
  return fromWire({ ...first, content: undefined }, Buffer.concat(parts, have));
}

function fromWire(file: z.infer<typeof wireFile>, content?: Buffer): BoxFile {
  return {
    path: file.path,
    kind: file.kind,
    ...(file.executable === undefined ? {} : { executable: file.executable }),
    ...(content !== undefined ? { content } : file.content === undefined ? {} : { content: Buffer.from(file.content, 'base64') }),
    ...(file.target === undefined ? {} : { target: file.target }),
  };
}
