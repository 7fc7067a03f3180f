import type { Logger } from '../../logger.ts';
import { probeProcessLimit, type ProcessLimit } from './processLimit.ts';
import { bwrapSandbox, probeBwrap, SandboxUnavailableError, unsandboxed, type Sandbox } from './sandbox.ts';

export interface SandboxChoice {
  /** `anthropic` runs what a model writes: no sandbox, no start. */
  model: 'anthropic' | 'scripted';
  /** `--unsafe-no-sandbox`: the operator runs the whole listener in a throwaway container. */
  unsafeNoSandbox: boolean;
  logger: Logger;
  /** The bwrap binary (tests point it at a missing one). */
  bwrap?: string;
  /** How the process limit is held; default: probed here (probeProcessLimit). */
  processLimit?: ProcessLimit;
}

export const NO_SANDBOX_WARNING =
  'Bash runs WITHOUT a sandbox (--unsafe-no-sandbox): model-written commands can read and write whatever this process can. Only do this inside a throwaway container.';

/**
 * The sandbox the listener's Bash runs in, decided once at start-up.
 * bubblewrap when it works; without it the `anthropic` model refuses to
 * start (SandboxUnavailableError names what to install), unless the
 * operator opted out. The `scripted` stand-in runs no command of its own, so
 * it only warns.
 */
export async function chooseSandbox(choice: SandboxChoice): Promise<Sandbox> {
  const limit = choice.processLimit ?? (await probeProcessLimit());
  if (choice.unsafeNoSandbox) {
    choice.logger.warn(NO_SANDBOX_WARNING);
    return unsandboxed(limit);
  }
  const bwrap = choice.bwrap ?? 'bwrap';
  const problem = await probeBwrap(bwrap);
  if (problem === undefined) return bwrapSandbox(bwrap, limit);
  const advice =
    `no working sandbox for Bash: ${bwrap} failed (${problem}). Install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap; ` +
    'it needs unprivileged user namespaces, kernel.unprivileged_userns_clone=1), or, only inside a throwaway container, start with --unsafe-no-sandbox';
  if (choice.model === 'anthropic') throw new SandboxUnavailableError(advice);
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
      'Bash process limit NOT enforced: the listener runs as root, for whom the kernel ignores RLIMIT_NPROC, and it cannot make a pids cgroup. ' +
        'Run it as an ordinary user, or give it a writable pids cgroup (cgroup v1 /sys/fs/cgroup/pids, or a delegated cgroup v2 subtree)',
    );
  } else if (limit.mechanism === 'rlimit') logger.info(fields, 'Bash process limit: RLIMIT_NPROC (ulimit -u) in each box');
  else logger.info(fields, `Bash process limit: pids.max of a ${limit.mechanism} per command`);
}
