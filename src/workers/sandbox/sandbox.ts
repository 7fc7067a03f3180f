import { execFile } from 'node:child_process';
import { existsSync, lstatSync, readlinkSync } from 'node:fs';
import type { SandboxedCommand } from './command.ts';
import { rlimitOnly, type BoxUser, type ProcessLimit, type ProcessLimitMechanism } from './processLimit.ts';
import { OrchestratorError } from '../../errors.ts';

/**
 * Folders one sandboxed command may see besides the system's own, per task.
 * The task's folder is the default (and usually only) writable path; with
 * `--project` in worktree isolation the task's worktree is writable and the
 * project's shared `.git` folder read-only (src/project/taskWorkspaces.ts).
 */
export interface SandboxBinds {
  /** Bound read-write at the same path inside; each must exist. The first one is the command's working directory. */
  writable: readonly string[];
  /** Bound read-only at the same path inside. */
  readOnly: readonly string[];
  /**
   * `[source, target]`: `source` bound read-only at `target` inside, after
   * all the others and in this order, so one can cover a path another bind
   * brought in (a sanitised git config over the project's, a read-only
   * `.git` inside a writable project folder).
   */
  readOnlyAt?: readonly (readonly [source: string, target: string])[];
}

/** Kernel resource limits (setrlimit) of every process of one command; the command cannot raise them. */
export interface SandboxLimits {
  /**
   * Processes (threads included) one command may run at once: `pids.max` of
   * its own cgroup where the listener can make one, and RLIMIT_NPROC always
   * (which the kernel skips for root, unless the box runs as an unprivileged
   * uid: the `uid` mechanism). `Sandbox.processLimit` says which holds.
   */
  processes: number;
  /** RLIMIT_FSIZE: the largest file a command may write. */
  fileSizeBytes: number;
  /** RLIMIT_CPU: CPU seconds of each process (the wall-clock limit is the Bash timeout). */
  cpuSeconds: number;
  /** RLIMIT_AS: address space of each process. */
  memoryBytes: number;
  /** Size of the box's private /tmp (a tmpfs); writing past it fails with ENOSPC. */
  tmpBytes: number;
}

export const DEFAULT_LIMITS: SandboxLimits = {
  processes: 512,
  fileSizeBytes: 1024 ** 3,
  cpuSeconds: 600,
  memoryBytes: 8 * 1024 ** 3,
  tmpBytes: 256 * 1024 ** 2,
};

export interface SandboxRequest {
  /** The command line, run by `bash -c`. */
  command: string;
  binds: SandboxBinds;
  /** The whole environment inside: build it with `sandboxEnv`, never pass process.env. */
  env: Record<string, string>;
  limits: SandboxLimits;
  /**
   * Unix socket of the egress proxy (`--allow-domain`, egressProxy.ts);
   * absent: no network at all. It is bound into the sandbox and bridged to
   * 127.0.0.1:3128 inside with socat.
   */
  proxySocket?: string;
}

/**
 * The OS boundary around every command a model writes. `wrap` turns a
 * command into the argv that runs it confined; `kind` says which boundary
 * (`none` only with --unsafe-no-sandbox).
 *
 * @example
 * const sandbox = await chooseSandbox({ model: 'anthropic', unsafeNoSandbox: false, logger });
 * const run = sandbox.wrap({ command: 'npm test', binds: { writable: [taskDir], readOnly: [] }, env, limits: DEFAULT_LIMITS });
 * spawn(run.file, run.args, { cwd: run.cwd, env: run.env, detached: true });
 */
export interface Sandbox {
  readonly kind: 'bwrap' | 'none';
  /** What holds `SandboxLimits.processes` (see processLimit.ts); `none` means nothing does. */
  readonly processLimit: ProcessLimitMechanism;
  /** Where its cgroups go, or why there are none. */
  readonly processLimitDetail: string;
  /**
   * With the `uid` mechanism, the unprivileged user the box runs as: every
   * writable bind must be opened to it (boxUser.ts `openToBox`) before
   * anything is written there.
   */
  readonly boxUser?: BoxUser;
  /** Call `release` on the result once the process has exited. */
  wrap(request: SandboxRequest): SandboxedCommand;
}

/** No working sandbox on this machine: the anthropic model refuses to start. */
export class SandboxUnavailableError extends OrchestratorError {
  override readonly cliExitCode: number = 2;
}

/** Inside the sandbox, the egress proxy listens here (socat, bridged to the bound unix socket). */
export const PROXY_PORT = 3128;
const PROXY_SOCKET_INSIDE = '/run/orch-proxy.sock';

/**
 * /etc entries a shell, node, git and TLS need; the rest of /etc (shadow,
 * ssh host keys, service credentials) stays out.
 */
const ETC = [
  'passwd', 'group', 'hosts', 'resolv.conf', 'nsswitch.conf', 'host.conf', 'gai.conf', 'localtime', 'timezone',
  'ld.so.cache', 'ld.so.conf', 'ld.so.conf.d', 'alternatives', 'ssl', 'ca-certificates', 'ca-certificates.conf',
  'mime.types', 'os-release', 'debian_version', 'profile', 'bash.bashrc', 'inputrc', 'magic', 'magic.mime',
];

/** Bash's `ulimit` units: -f and -v are KiB blocks. */
function ulimitLine(limits: SandboxLimits): string {
  const kib = (bytes: number) => Math.max(1, Math.floor(bytes / 1024));
  return `ulimit -u ${limits.processes} -f ${kib(limits.fileSizeBytes)} -t ${limits.cpuSeconds} -v ${kib(limits.memoryBytes)}`;
}

/** The script bash runs first inside: set the limits (hard and soft), start the proxy bridge, then exec the command. */
function prologue(limits: SandboxLimits, proxy: boolean): string {
  const bridge = proxy
    ? `socat TCP-LISTEN:${PROXY_PORT},bind=127.0.0.1,fork,reuseaddr UNIX-CONNECT:${PROXY_SOCKET_INSIDE} </dev/null >/dev/null 2>&1 & ` +
      `for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/${PROXY_PORT}) 2>/dev/null && break; sleep 0.02; done; `
    : '';
  return `${ulimitLine(limits)} || exit 125; ${bridge}exec /bin/bash -c "$1"`;
}

/** Top-level system folders bound read-only (symlinks such as /bin -> usr/bin are recreated as links). */
export function systemBinds(): string[] {
  const args: string[] = [];
  for (const dir of ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32']) {
    let stats;
    try {
      stats = lstatSync(dir);
    } catch {
      continue;
    }
    // A relative target (usr/bin) is kept as is: it resolves against / inside as well.
    if (stats.isSymbolicLink()) args.push('--symlink', readlinkSync(dir), dir);
    else if (stats.isDirectory()) args.push('--ro-bind', dir, dir);
  }
  for (const name of ETC) {
    const file = `/etc/${name}`;
    if (existsSync(file)) args.push('--ro-bind', file, file);
  }
  return args;
}

/**
 * bubblewrap driven directly: every namespace unshared (user, pid, net, ipc,
 * uts, cgroup), no capability at all and no further user namespace, the
 * system folders read-only, a private /tmp of bounded size, a fresh /proc
 * and /dev, only the given binds, the environment cleared and rebuilt from
 * `env`, a new session (no TIOCSTI into our terminal), and the whole pid
 * namespace killed when bwrap dies.
 *
 * Started by root, bwrap maps root to root in the box's user namespace and
 * keeps nearly every capability there (CapEff 000001fffeffffff): its
 * read-only binds could be remounted read-write (`mount -o remount,bind,rw
 * /usr`). `--cap-drop ALL` empties the effective, permitted, bounding and
 * ambient sets for root and non-root alike; `--disable-userns` keeps a
 * command from making a new user namespace to win capabilities back in;
 * bwrap always sets no-new-privileges (NoNewPrivs: 1), so no setuid binary
 * regains any either.
 */
export function bwrapSandbox(bwrap = 'bwrap', processLimit: ProcessLimit = rlimitOnly()): Sandbox {
  const system = systemBinds();
  return {
    kind: 'bwrap',
    processLimit: processLimit.mechanism,
    processLimitDetail: processLimit.detail,
    ...(processLimit.boxUser ? { boxUser: processLimit.boxUser } : {}),
    wrap(request) {
      const [cwd = '/tmp'] = request.binds.writable;
      const args = [
        '--unshare-all',
        // --unshare-all only tries a user namespace; --disable-userns needs one for sure.
        '--unshare-user',
        '--disable-userns',
        '--cap-drop', 'ALL',
        '--die-with-parent',
        '--new-session',
        ...system,
        '--proc', '/proc',
        '--dev', '/dev',
        '--size', String(request.limits.tmpBytes),
        '--tmpfs', '/tmp',
        '--dir', '/tmp/home',
        '--dir', '/run',
      ];
      for (const dir of request.binds.readOnly) args.push('--ro-bind', dir, dir);
      for (const dir of request.binds.writable) args.push('--bind', dir, dir);
      for (const [source, target] of request.binds.readOnlyAt ?? []) args.push('--ro-bind', source, target);
      if (request.proxySocket !== undefined) args.push('--bind', request.proxySocket, PROXY_SOCKET_INSIDE);
      args.push('--chdir', cwd, '--clearenv');
      const env: Record<string, string> = { ...request.env, HOME: '/tmp/home', TMPDIR: '/tmp', TMP: '/tmp', TEMP: '/tmp' };
      if (processLimit.boxUser !== undefined && env.GIT_CONFIG_COUNT === undefined) {
        // The worktree is root's, which the box's user namespace shows as nobody: git would call it of dubious ownership.
        Object.assign(env, { GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'safe.directory', GIT_CONFIG_VALUE_0: '*' });
      }
      if (request.proxySocket !== undefined) {
        const proxy = `http://127.0.0.1:${PROXY_PORT}`;
        Object.assign(env, { HTTP_PROXY: proxy, HTTPS_PROXY: proxy, http_proxy: proxy, https_proxy: proxy, npm_config_proxy: proxy, npm_config_https_proxy: proxy });
      }
      for (const [name, value] of Object.entries(env)) args.push('--setenv', name, value);
      args.push('--', '/bin/bash', '-c', prologue(request.limits, request.proxySocket !== undefined), 'sandbox', request.command);
      // bwrap itself gets no environment worth stealing: its own child starts from --clearenv anyway.
      return processLimit.confine({ file: bwrap, args, env: { PATH: '/usr/bin:/bin' }, cwd }, request.limits.processes);
    },
  };
}

/**
 * No boundary: the command runs as the listener's user with the limits and
 * environment only. For `--unsafe-no-sandbox` (a throwaway container around
 * the whole listener) and nothing else.
 */
export function unsandboxed(processLimit: ProcessLimit = rlimitOnly()): Sandbox {
  return {
    kind: 'none',
    processLimit: processLimit.mechanism,
    processLimitDetail: processLimit.detail,
    wrap(request) {
      const [cwd = process.cwd()] = request.binds.writable;
      return processLimit.confine(
        { file: 'bash', args: ['-c', prologue(request.limits, false), 'sandbox', request.command], env: request.env, cwd },
        request.limits.processes,
      );
    },
  };
}

/**
 * Whether bubblewrap works here: starting it is the only reliable test (it
 * may be installed and still be refused user namespaces). Resolves to the
 * reason it does not, or undefined when it does.
 */
export function probeBwrap(bwrap = 'bwrap', timeoutMs = 10_000, processLimit: ProcessLimit = rlimitOnly()): Promise<string | undefined> {
  const sandbox = bwrapSandbox(bwrap, processLimit);
  // Checked with the very flags every command gets (--cap-drop, --disable-userns, --size): a bwrap too old for one fails here.
  const run = sandbox.wrap({ command: 'echo ok', binds: { writable: [], readOnly: [] }, env: { PATH: '/usr/bin:/bin' }, limits: DEFAULT_LIMITS });
  return new Promise((resolve) => {
    const user = run.uid === undefined ? {} : { uid: run.uid, gid: run.gid ?? run.uid };
    execFile(run.file, run.args, { env: run.env, cwd: '/', timeout: timeoutMs, ...user }, (error, stdout, stderr) => {
      void run.release?.().catch(() => undefined);
      if (error === null && stdout.trim() === 'ok') resolve(undefined);
      else resolve(((error as NodeJS.ErrnoException | null)?.code === 'ENOENT' ? 'bwrap is not installed' : stderr.trim() || error?.message) ?? 'no output');
    });
  });
}
