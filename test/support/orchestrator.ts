import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig, type ConfigInput } from '../../src/config.ts';
import { keysFor } from '../../src/protocol/keys.ts';
import { startOrchestrator, type OrchestratorOptions } from '../../src/runtime/orchestrator.ts';
import { freshDomain, redisUrl } from './redis.ts';

/** The real orchestrator (scripted model unless told otherwise) on the test Redis, on a fresh domain. */
export async function startTestOrchestrator(over: ConfigInput = {}, options: Partial<OrchestratorOptions> = {}, env: NodeJS.ProcessEnv = {}) {
  const domain = over.domain ?? freshDomain().domain;
  const config = loadConfig(
    {
      redisUrl: redisUrl(),
      domain,
      agentId: `${domain}-a`,
      workspace: mkdtempSync(join(tmpdir(), 'orch-ws-')),
      model: 'scripted',
      claimTimeoutSeconds: 0.1,
      heartbeatIntervalMs: 200,
      recoveryIntervalMs: 200,
      resultGraceMs: 1000,
      workerBackoffMs: 10,
      shutdownGraceMs: 300,
      logLevel: 'silent',
      ...over,
    },
    env,
  );
  const orchestrator = await startOrchestrator(config, { logger: pino({ level: 'silent' }), ...options });
  return { orchestrator, config, keys: keysFor(domain) };
}
