import { loadConfig, readConfigFile } from '../config.ts';
import { createLogger } from '../logger.ts';
import { ownSecrets } from '../secrets.ts';
import { createInspection, type Inspection } from '../observability/inspector.ts';
import { startTracing } from '../observability/otel.ts';
import { startOrchestrator } from '../runtime/orchestrator.ts';
import { ResourceStack } from '../runtime/resources.ts';
import { configFromFlags, FLAG_OF_OPTION } from './startFlags.ts';

/**
 * What commander parsed for `start`, by attribute name: the flags of
 * START_FLAGS (startFlags.ts), the one list of them. `inspect` and `config`
 * are read here; the rest become the config's input through configFromFlags.
 */
export type StartOptions = Record<string, unknown> & { inspect?: string | true; config?: string };

export { configFromFlags };

export async function runStart(o: StartOptions): Promise<void> {
  // Flags and the environment win over the file (docs/model-api.md, "Choosing models and prices").
  const file = o.config !== undefined ? readConfigFile(o.config) : undefined;
  const config = loadConfig(configFromFlags({ ...o }), process.env, FLAG_OF_OPTION, file);
  const logger = createLogger(config.logLevel, { secrets: ownSecrets(config) });
  // The tracer and the inspector outlive the listener (its last spans and
  // snapshots go out after its stop), on a stack of their own: closed after
  // the listener's stop, or when the listener fails to start (a local
  // inspector relay would otherwise keep the process alive).
  const outside = new ResourceStack(({ resource, error }) => logger.warn({ err: error, resource }, `could not close the ${resource}`));
  const tracing = await startTracing(config.tracing);
  if (tracing) outside.add({ name: 'tracer', close: () => tracing.shutdown().catch((error: unknown) => logger.warn({ err: error }, 'could not send the last traces')) });
  if (tracing) logger.info({ exporter: config.tracing.exporter, endpoint: config.tracing.endpoint, service: config.tracing.serviceName }, 'OpenTelemetry traces on');
  let inspection: Inspection | undefined;
  const refusedOrigins = new Set<string>();
  if (o.inspect !== undefined) {
    inspection = await createInspection(o.inspect, {
      localPort: config.inspectPort,
      localHost: config.inspectHost,
      full: config.inspectFull,
      // Each origin once: a page that keeps retrying must not flood the log.
      onRefusedOrigin: (origin) => {
        if (refusedOrigins.has(origin) || refusedOrigins.size >= 100) return;
        refusedOrigins.add(origin);
        logger.warn({ origin }, 'inspector relay refused a WebSocket from a page of another origin (logged once per origin)');
      },
    });
    const attached = inspection;
    outside.add({ name: 'inspector', close: () => attached.stop() });
    logger.info({ inspector: inspection.description, ...(inspection.relay ? { allowed_origins: inspection.relay.allowedOrigins } : {}) }, 'Stately Inspector attached');
    if (inspection.warning) logger.warn(inspection.warning);
    if (inspection.openUrl) process.stderr.write(`Stately Inspector: open ${inspection.openUrl} in a browser to watch every task and worker actor\n`);
  }
  const orchestrator = await startOrchestrator(config, { logger, ...(inspection ? { inspect: inspection.inspect } : {}) }).catch(async (error: unknown) => {
    await outside.close();
    throw error;
  });
  // First SIGTERM/SIGINT: a graceful, bounded stop. A second one during it:
  // stop now, leaving the checkpoints as they are (exit code 1).
  let signalled: (() => void) | undefined;
  const firstSignal = new Promise<void>((resolve) => (signalled = resolve));
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signals++ === 0) {
      logger.info({ signal, grace_ms: config.shutdownGraceMs }, 'stopping: no new claims, letting tasks in flight finish');
      signalled?.();
    } else {
      orchestrator.abandon(`a second signal (${signal})`);
    }
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  await Promise.race([orchestrator.done, firstSignal]);
  const result = await orchestrator.stop();
  await outside.close();
  // The hosted inspector keeps its socket private and open, and the local relay
  // keeps its browser connections: nothing else holds the process.
  // Commands and sockets of an abandoned stop may still hold the event loop.
  if (!result.clean) process.exit(1);
  if (inspection) process.exit(process.exitCode ?? 0);
}
