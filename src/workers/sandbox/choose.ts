import type { Logger } from '../../logger.ts';
import { bwrapSandbox, probeBwrap, SandboxUnavailableError, unsandboxed, type Sandbox } from './sandbox.ts';

export interface SandboxChoice {
  /** `anthropic` runs what a model writes: no sandbox, no start. */
  model: 'anthropic' | 'scripted';
  /** `--unsafe-no-sandbox`: the operator runs the whole listener in a throwaway container. */
  unsafeNoSandbox: boolean;
  logger: Logger;
  /** The bwrap binary (tests point it at a missing one). */
  bwrap?: string;
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
  if (choice.unsafeNoSandbox) {
    choice.logger.warn(NO_SANDBOX_WARNING);
    return unsandboxed();
  }
  const bwrap = choice.bwrap ?? 'bwrap';
  const problem = await probeBwrap(bwrap);
  if (problem === undefined) return bwrapSandbox(bwrap);
  const advice =
    `no working sandbox for Bash: ${bwrap} failed (${problem}). Install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap; ` +
    'it needs unprivileged user namespaces, kernel.unprivileged_userns_clone=1), or, only inside a throwaway container, start with --unsafe-no-sandbox';
  if (choice.model === 'anthropic') throw new SandboxUnavailableError(advice);
  choice.logger.warn(`${advice}. The scripted model runs no commands of its own; continuing without a sandbox.`);
  return unsandboxed();
}
