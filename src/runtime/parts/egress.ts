import type { Config } from '../../config.ts';
import type { Logger } from '../../logger.ts';
import { grantBoxSocket } from '../../workers/sandbox/boxUser.ts';
import { startEgressProxy, type EgressProxy } from '../../workers/sandbox/egressProxy.ts';
import type { Sandbox } from '../../workers/sandbox/sandbox.ts';
import type { ResourceStack } from '../resources.ts';

/** No network inside the sandbox; the allowed hosts are reached through this proxy only. */
export async function startEgress(config: Config, deps: { sandbox: Sandbox; logger: Logger }, stack: ResourceStack): Promise<EgressProxy | undefined> {
  const { sandbox, logger } = deps;
  const egress =
    config.allowDomains.length > 0 && sandbox.kind === 'bwrap'
      ? await startEgressProxy(config.allowDomains, { onDenied: (why) => logger.warn({ why }, 'egress refused') })
      : undefined;
  if (egress) {
    stack.add({ name: 'egress proxy', close: () => egress.close(), drop: () => egress.close() });
    if (sandbox.boxUser !== undefined) await grantBoxSocket(egress.socketPath, sandbox.boxUser);
    logger.info({ allow: config.allowDomains }, 'Bash may reach these hosts through the egress proxy');
  } else if (config.allowDomains.length > 0) {
    logger.warn('--allow-domain has no effect without the sandbox: Bash reaches the whole network');
  }
  return egress;
}
