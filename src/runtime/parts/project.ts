import type { Redis } from 'ioredis';
import type { Config } from '../../config.ts';
import { ConfigError } from '../../errors.ts';
import { addLoggerSecrets, type Logger } from '../../logger.ts';
import { openTaskWorkspaces, type BoxEngine } from '../../project/openProject.ts';
import type { TaskWorkspaces } from '../../project/taskWorkspaces.ts';
import type { Keys } from '../../protocol/keys.ts';
import type { ProgressWriter } from '../../redis/progress.ts';
import { openToBox } from '../../workers/sandbox/boxUser.ts';
import type { Sandbox } from '../../workers/sandbox/sandbox.ts';
import type { EgressProxy } from '../../workers/sandbox/egressProxy.ts';
import { sandboxEnv } from '../../workers/tools/index.ts';
import { probeBox, startBox } from '../../workers/box/index.ts';
import type { ResourceStack } from '../resources.ts';

/**
 * The project tasks work on (undefined: each task in its own folder), opened
 * before anything else connects: a project that cannot be used stops
 * start-up here, with its reason. Its task locks are released on a clean
 * stop; a cut-short one leaves them to expire for the instance taking over.
 */
export async function openProject(
  config: Config,
  deps: { redis: Redis; keys: Keys; logger: Logger; progress: ProgressWriter; sandbox: Sandbox; egress: EgressProxy | undefined; boxEngine: BoxEngine | undefined },
  stack: ResourceStack,
): Promise<TaskWorkspaces | undefined> {
  const { sandbox, logger } = deps;
  const workspaces = await openTaskWorkspaces(config, {
    redis: deps.redis,
    keys: deps.keys,
    logger,
    progress: deps.progress,
    ...(sandbox.boxUser ? { openToBox: (dir: string) => openToBox(sandbox, dir) } : {}),
    box: {
      engine: deps.boxEngine ?? { start: startBox, probe: probeBox },
      // Today's Bash limits hold for the whole box; the layer quota is its own.
      options: {
        limits: {
          processes: config.bashMaxProcesses,
          memoryBytes: config.bashMaxMemoryBytes,
          cpuSeconds: config.bashCpuSeconds,
          fileSizeBytes: config.bashMaxFileBytes,
          tmpBytes: config.bashTmpBytes,
          layerBytes: config.boxDiskQuota,
        },
        env: sandboxEnv(process.env),
        bashTimeoutMs: config.bashTimeoutMs,
        maxOutputBytes: config.bashMaxOutputBytes,
        ...(deps.egress ? { proxySocket: deps.egress.socketPath } : {}),
      },
    },
  });
  if (workspaces === undefined) return undefined;
  stack.add({ name: 'project', close: () => workspaces.close() });
  if (workspaces.secrets.length > 0) {
    addLoggerSecrets(logger, workspaces.secrets);
    logger.info({ count: workspaces.secrets.length }, "credentials of the project (its git config's remote URLs, insteadOf, extraHeader; a remote project's token) are redacted from logs and results");
  }
  if (sandbox.boxUser !== undefined && workspaces.isolation === 'none') {
    throw new ConfigError(
      `--isolation none: the Bash box runs as uid ${sandbox.boxUser.uid} (the listener is root without a writable pids cgroup), which would need ACLs on your project folder itself. ` +
        'Use --isolation worktree (a git project), give the listener a writable pids cgroup, or run it as an ordinary user',
    );
  }
  return workspaces;
}
