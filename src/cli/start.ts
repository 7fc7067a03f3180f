import { loadConfig, type ConfigInput } from '../config.ts';
import { createLogger } from '../logger.ts';
import { createInspection, type Inspection } from '../observability/inspector.ts';
import { startTracing } from '../observability/otel.ts';
import { startOrchestrator } from '../runtime/orchestrator.ts';

export interface StartOptions {
  redis?: string;
  domain?: string;
  concurrency?: number;
  workspace?: string;
  agents?: string;
  model?: string;
  planner?: string;
  agentId?: string;
  logLevel?: string;
  shutdownGraceMs?: number;
  heartbeatMs?: number;
  recoveryMs?: number;
  orphanGraceMs?: number;
  maxTakeovers?: number;
  claimTimeout?: number;
  resultGraceMs?: number;
  inspect?: string | true;
  inspectPort?: number;
  inspectFull?: boolean;
  metricsPort?: number;
  metricsHost?: string;
}

/** Maps CLI flags onto config options; the schema checks every value. */
export function configFromFlags(o: StartOptions): ConfigInput {
  const c: Record<string, unknown> = {};
  if (o.redis !== undefined) c.redisUrl = o.redis;
  if (o.domain !== undefined) c.domain = o.domain;
  if (o.concurrency !== undefined) c.concurrency = o.concurrency;
  if (o.workspace !== undefined) c.workspace = o.workspace;
  if (o.agents !== undefined) c.agents = o.agents;
  if (o.model !== undefined) c.model = o.model;
  if (o.planner !== undefined) c.planner = o.planner;
  if (o.agentId !== undefined) c.agentId = o.agentId;
  if (o.logLevel !== undefined) c.logLevel = o.logLevel;
  if (o.shutdownGraceMs !== undefined) c.shutdownGraceMs = o.shutdownGraceMs;
  if (o.heartbeatMs !== undefined) c.heartbeatIntervalMs = o.heartbeatMs;
  if (o.recoveryMs !== undefined) c.recoveryIntervalMs = o.recoveryMs;
  if (o.orphanGraceMs !== undefined) c.orphanGraceMs = o.orphanGraceMs;
  if (o.maxTakeovers !== undefined) c.maxTakeovers = o.maxTakeovers;
  if (o.claimTimeout !== undefined) c.claimTimeoutSeconds = o.claimTimeout;
  if (o.resultGraceMs !== undefined) c.resultGraceMs = o.resultGraceMs;
  if (o.metricsPort !== undefined) c.metricsPort = o.metricsPort;
  if (o.metricsHost !== undefined) c.metricsHost = o.metricsHost;
  if (o.inspectPort !== undefined) c.inspectPort = o.inspectPort;
  if (o.inspectFull !== undefined) c.inspectFull = o.inspectFull;
  return c as ConfigInput;
}

export async function runStart(o: StartOptions): Promise<void> {
  const config = loadConfig(configFromFlags(o));
  const logger = createLogger(config.logLevel);
  const tracing = await startTracing(config.tracing);
  if (tracing) logger.info({ exporter: config.tracing.exporter, endpoint: config.tracing.endpoint, service: config.tracing.serviceName }, 'OpenTelemetry traces on');
  let inspection: Inspection | undefined;
  if (o.inspect !== undefined) {
    inspection = await createInspection(o.inspect, { localPort: config.inspectPort, full: config.inspectFull });
    logger.info({ inspector: inspection.description }, 'Stately Inspector attached');
    if (inspection.warning) logger.warn(inspection.warning);
    if (inspection.openUrl) process.stderr.write(`Stately Inspector: open ${inspection.openUrl} in a browser to watch every task and worker actor\n`);
  }
  const orchestrator = await startOrchestrator(config, { logger, ...(inspection ? { inspect: inspection.inspect } : {}) });
  const onSignal = (signal: NodeJS.Signals) => {
    logger.info({ signal }, 'stopping: no new claims, letting tasks in flight finish');
    void orchestrator.stop();
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  await orchestrator.done;
  await orchestrator.stop();
  inspection?.stop();
  await tracing?.shutdown().catch((error: unknown) => logger.warn({ err: error }, 'could not send the last traces'));
  // The hosted inspector keeps its socket private and open, and the local relay
  // keeps its browser connections: nothing else holds the process.
  if (inspection) process.exit(process.exitCode ?? 0);
}
