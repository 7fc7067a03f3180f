import { mkdir } from 'node:fs/promises';
import type { Config } from '../../config.ts';
import type { Logger } from '../../logger.ts';
import { chooseSandbox } from '../../workers/sandbox/choose.ts';
import type { Sandbox } from '../../workers/sandbox/sandbox.ts';

/**
 * The box Bash runs in, chosen before anything connects: no working sandbox
 * stops the anthropic model here. Nothing to close: the box is made per command.
 */
export async function chooseListenerSandbox(config: Config, logger: Logger): Promise<Sandbox> {
  await mkdir(config.workspace, { recursive: true });
  return chooseSandbox({
    model: config.model,
    unsafeNoSandbox: config.unsafeNoSandbox,
    logger,
    processLimitChoice: config.boxProcessLimit,
    boxUser: { uid: config.boxUid, gid: config.boxGid ?? config.boxUid },
    workspace: config.workspace,
    ...(config.project === undefined ? {} : { project: config.project }),
  });
}
