import { ConfigError } from '../../errors.ts';
import type { Logger } from '../../logger.ts';
import { probeBoxUser, setfaclMissing } from './boxUser.ts';
import { boxUserLimit, probeProcessLimit, rlimitOnly, type BoxUser, type ProcessLimit, type ProcessLimitChoice } from './processLimit.ts';
import { bwrapSandbox, probeBwrap, SandboxUnavailableError, unsandboxed, type Sandbox } from './sandbox.ts';

export interface SandboxChoice {
  /** `anthropic` runs what a model writes: no sandbox, no start. */
  model: 'anthropic' | 'scripted';
  /** `--unsafe-no-sandbox`: the operator runs the whole listener in a throwaway container. */
  unsafeNoSandbox: boolean;
  logger: Logger;
  /** The bwrap binary (tests point it at a missing one). */
  bwrap?: string;
  /** How the process limit is held; default: decided here from `processLimitChoice`. */
  processLimit?: ProcessLimit;
  /** `--box-process-limit`: `auto` (default) or the one mechanism to use, refused with the reason when it cannot work here. */
  processLimitChoice?: ProcessLimitChoice;
  /** The uid/gid a `uid` box runs as (`--box-uid`, `--box-gid`). */
  boxUser?: BoxUser;
  /** Where task folders and worktrees go: the `uid` probe writes there as the box uid. */
  workspace?: string;
  /** The project (`--project`), bound read-only in worktree isolation: the box uid must reach it too. */
  project?: string;
  /** What the pids cgroup probe finds (default probeProcessLimit); tests stand in a machine without a writable cgroup. */
  probeCgroup?: () => Promise<ProcessLimit>;
}

export const NO_SANDBOX_WARNING =
  'Bash runs WITHOUT a sandbox (--unsafe-no-sandbox): model-written commands can read and write whatever this process can. Only do this inside a throwaway container.';

export const DEFAULT_BOX_USER: BoxUser = { uid: 64923, gid: 64923 };

const isRoot = () => process.getuid?.() === 0;

/**
 * The process limit asked for, before the sandbox is known: a cgroup when
 * one can be made (auto, cgroup), RLIMIT_NPROC (rlimit, ordinary users
 * only). `uid` is settled once bwrap is known to work (uidOrWhy).
 */
async function baseLimit(choice: ProcessLimitChoice, probeCgroup: () => Promise<ProcessLimit> = () => probeProcessLimit()): Promise<ProcessLimit> {
  if (choice === 'rlimit') {
    if (isRoot()) throw new ConfigError('--box-process-limit rlimit: the listener runs as root, for whom the kernel skips RLIMIT_NPROC; use auto, cgroup or uid');
    return rlimitOnly();
  }
  if (choice === 'uid') return rlimitOnly();
  const probed = await probeCgroup();
  if (choice === 'cgroup' && probed.mechanism !== 'cgroup-v1' && probed.mechanism !== 'cgroup-v2') {
    throw new ConfigError(`--box-process-limit cgroup: no pids cgroup can be made here (${probed.detail})`);
  }
  return probed;
}

/** The `uid` mechanism if it works here with this bwrap, else why not. */
async function uidOrWhy(bwrap: string, choice: SandboxChoice): Promise<ProcessLimit | string> {
  if (!isRoot()) {
    return `the listener runs as uid ${process.getuid?.() ?? '?'}, not root: it cannot switch to another uid, and needs not (RLIMIT_NPROC holds for it: --box-process-limit rlimit or auto)`;
  }
  const missing = await setfaclMissing();
  if (missing !== undefined) return missing;
  if (choice.workspace === undefined) return 'no workspace to check the box uid against';
  const limit = boxUserLimit(choice.boxUser ?? DEFAULT_BOX_USER);
  const problem = await probeBoxUser(bwrapSandbox(bwrap, limit), limit.boxUser!, choice.workspace, choice.project === undefined ? [] : [choice.project]);
  return problem ?? limit;
}

/**
 * The sandbox the listener's Bash runs in, decided once at start-up.
 * bubblewrap when it works; without it the `anthropic` model refuses to
 * start (SandboxUnavailableError names what to install), unless the
 * operator opted out. The `scripted` stand-in runs no command of its own, so
 * it only warns.
 *
 * The process limit, unless given: a pids cgroup per command where one can
 * be made; else for root the `uid` mechanism (the box runs as an
 * unprivileged uid, needs setfacl and a workspace that uid can reach: tried
 * for real), else nothing (start-up warns); for an ordinary user RLIMIT_NPROC.
 * A mechanism forced by `processLimitChoice` that cannot work is a
 * ConfigError.
 */
export async function chooseSandbox(choice: SandboxChoice): Promise<Sandbox> {
  const asked = choice.processLimit === undefined ? (choice.processLimitChoice ?? 'auto') : undefined;
  let limit = choice.processLimit ?? (await baseLimit(asked ?? 'auto', choice.probeCgroup));
  if (choice.unsafeNoSandbox) {
    if (asked === 'uid') throw new ConfigError('--box-process-limit uid needs the bubblewrap sandbox: it cannot be combined with --unsafe-no-sandbox');
    choice.logger.warn(NO_SANDBOX_WARNING);
    return unsandboxed(limit);
  }
  const bwrap = choice.bwrap ?? 'bwrap';
  const problem = await probeBwrap(bwrap);
  if (problem === undefined) {
    if (asked === 'uid' || (asked === 'auto' && limit.mechanism === 'none')) {
      const uid = await uidOrWhy(bwrap, choice);
      if (typeof uid === 'string') {
        if (asked === 'uid') throw new ConfigError(`--box-process-limit uid: ${uid}`);
        limit = { ...limit, detail: `${limit.detail}; no box uid either: ${uid}` };
      } else limit = uid;
    }
    return bwrapSandbox(bwrap, limit);
  }
  const advice =
    `no working sandbox for Bash: ${bwrap} failed (${problem}). Install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap; ` +
    'it needs unprivileged user namespaces, kernel.unprivileged_userns_clone=1), or, only inside a throwaway container, start with --unsafe-no-sandbox';
  if (choice.model === 'anthropic') throw new SandboxUnavailableError(advice);
  if (asked === 'uid') throw new ConfigError(`--box-process-limit uid needs the bubblewrap sandbox: ${advice}`);
  choice.logger.warn(`${advice}. The scripted model runs no commands of its own; continuing without a sandbox.`);
  return unsandboxed(limit);
}

/**
 * One line at start-up says what bounds the processes of a Bash command; a
 * warning when nothing does. Logged once start-up has succeeded, so a refused
 * start prints its reason alone.
 */
export function logProcessLimit(logger: Logger, sandbox: Pick<Sandbox, 'processLimit' | 'processLimitDetail'>): void {
  const limit = { mechanism: sandbox.processLimit, detail: sandbox.processLimitDetail };
  const fields = { process_limit: limit.mechanism, why: limit.detail };
  if (limit.mechanism === 'none') {
    logger.warn(
      fields,
      'Bash process limit NOT enforced: the listener runs as root, for whom the kernel ignores RLIMIT_NPROC, it cannot make a pids cgroup, and the box cannot run as an unprivileged uid (see why). ' +
        'Run it as an ordinary user, give it a writable pids cgroup (cgroup v1 /sys/fs/cgroup/pids, or a delegated cgroup v2 subtree), or install setfacl (apt-get install acl) for --box-process-limit uid',
    );
  } else if (limit.mechanism === 'rlimit') logger.info(fields, 'Bash process limit: RLIMIT_NPROC (ulimit -u) in each box');
  else if (limit.mechanism === 'uid') logger.info(fields, 'Bash process limit: RLIMIT_NPROC, each box running as an unprivileged uid');
  else logger.info(fields, `Bash process limit: pids.max of a ${limit.mechanism} per command`);
}
