import { execFile } from 'node:child_process';
import { existsSync, lstatSync, readlinkSync } from 'node:fs';

/**
 * Folders one sandboxed command may see besides the system's own, per task.
 * The task's folder is the default (and usually only) writable path; with
 * `--project` in worktree isolation the task's worktree is writable and the
 * project's shared `.git` folder read-only (src/runtime/taskWorkspaces.ts).
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
  /** RLIMIT_NPROC. Not enforced by the kernel when the listener runs as root: run it as an ordinary user. */
  processes: number;
  /** RLIMIT_FSIZE: the largest file a command may write. */
  fileSizeBytes: number;
  /** RLIMIT_CPU: CPU seconds of each process (the wall-clock limit is the Bash timeout). */
  cpuSeconds: number;
  /** RLIMIT_AS: address space of each process. */
  memoryBytes: number;
}

export const DEFAULT_LIMITS: SandboxLimits = {
  processes: 512,
  fileSizeBytes: 1024 ** 3,
  cpuSeconds: 600,
  memoryBytes: 8 * 1024 ** 3,
};

/** How one command is started: the program, its arguments, its environment. */
export interface SandboxedCommand {
  file: string;
  args: string[];
  env: Record<string, string>;
  /** The working directory of the spawned process (outside the sandbox). */
  cwd: string;
}

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
  wrap(request: SandboxRequest): SandboxedCommand;
}

/** No working sandbox on this machine: the anthropic model refuses to start. */
export class SandboxUnavailableError extends Error {
  override name = 'SandboxUnavailableError';
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
function systemBinds(): string[] {
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
 * uts, cgroup), the system folders read-only, a private /tmp, a fresh /proc
 * and /dev, only the given binds, the environment cleared and rebuilt from
 * `env`, a new session (no TIOCSTI into our terminal), and the whole pid
 * namespace killed when bwrap dies.
 */
export function bwrapSandbox(bwrap = 'bwrap'): Sandbox {
  const system = systemBinds();
  return {
    kind: 'bwrap',
    wrap(request) {
      const [cwd = '/tmp'] = request.binds.writable;
      const args = [
        '--unshare-all',
        '--die-with-parent',
        '--new-session',
        ...system,
        '--proc', '/proc',
        '--dev', '/dev',
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
      if (request.proxySocket !== undefined) {
        const proxy = `http://127.0.0.1:${PROXY_PORT}`;
        Object.assign(env, { HTTP_PROXY: proxy, HTTPS_PROXY: proxy, http_proxy: proxy, https_proxy: proxy, npm_config_proxy: proxy, npm_config_https_proxy: proxy });
      }
      for (const [name, value] of Object.entries(env)) args.push('--setenv', name, value);
      args.push('--', '/bin/bash', '-c', prologue(request.limits, request.proxySocket !== undefined), 'sandbox', request.command);
      // bwrap itself gets no environment worth stealing: its own child starts from --clearenv anyway.
      return { file: bwrap, args, env: { PATH: '/usr/bin:/bin' }, cwd };
    },
  };
}

/**
 * No boundary: the command runs as the listener's user with the limits and
 * environment only. For `--unsafe-no-sandbox` (a throwaway container around
 * the whole listener) and nothing else.
 */
export function unsandboxed(): Sandbox {
  return {
    kind: 'none',
    wrap(request) {
      const [cwd = process.cwd()] = request.binds.writable;
      return { file: 'bash', args: ['-c', prologue(request.limits, false), 'sandbox', request.command], env: request.env, cwd };
    },
  };
}

/**
 * Whether bubblewrap works here: starting it is the only reliable test (it
 * may be installed and still be refused user namespaces). Resolves to the
 * reason it does not, or undefined when it does.
 */
export function probeBwrap(bwrap = 'bwrap', timeoutMs = 10_000): Promise<string | undefined> {
  const sandbox = bwrapSandbox(bwrap);
  const run = sandbox.wrap({ command: 'echo ok', binds: { writable: [], readOnly: [] }, env: { PATH: '/usr/bin:/bin' }, limits: DEFAULT_LIMITS });
  return new Promise((resolve) => {
    execFile(run.file, run.args, { env: run.env, cwd: '/', timeout: timeoutMs }, (error, stdout, stderr) => {
      if (error === null && stdout.trim() === 'ok') resolve(undefined);
      else resolve(((error as NodeJS.ErrnoException | null)?.code === 'ENOENT' ? 'bwrap is not installed' : stderr.trim() || error?.message) ?? 'no output');
    });
  });
}
