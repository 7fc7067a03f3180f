import { context, trace } from '@opentelemetry/api';

/** What the OTEL_* variables ask for (validated with the config). */
export interface TracingOptions {
  exporter: 'none' | 'console' | 'otlp';
  /** OTLP/HTTP traces endpoint; the exporter's default when absent. */
  endpoint?: string | undefined;
  serviceName: string;
}

export interface Tracing {
  /** Sends what is buffered and stops; safe to call twice. */
  shutdown(): Promise<void>;
}

/**
 * Registers the OpenTelemetry SDK for the process when the config (from the
 * OTEL_* variables) asks for traces, so the spans of tracing.ts are recorded
 * and exported; otherwise loads nothing and returns undefined. The SDK and
 * the exporter are imported here only, on demand.
 */
export async function startTracing(config: TracingOptions, options: { exporter?: unknown } = {}): Promise<Tracing | undefined> {
  if (config.exporter === 'none' && options.exporter === undefined) return undefined;
  const [{ TracerProvider, BatchSpanProcessor, SimpleSpanProcessor, ConsoleSpanExporter }, { AsyncLocalStorageContextManager }, { resourceFromAttributes }] =
    await Promise.all([import('@opentelemetry/sdk-trace'), import('@opentelemetry/context-async-hooks'), import('@opentelemetry/resources')]);
  type Exporter = ConstructorParameters<typeof SimpleSpanProcessor>[0]['exporter'];
  let processor;
  if (options.exporter !== undefined) {
    // Tests hand in an in-memory exporter: every span is there as soon as it ends.
    processor = new SimpleSpanProcessor({ exporter: options.exporter as Exporter });
  } else if (config.exporter === 'console') {
    processor = new SimpleSpanProcessor({ exporter: new ConsoleSpanExporter() });
  } else {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    processor = new BatchSpanProcessor({ exporter: new OTLPTraceExporter(config.endpoint ? { url: config.endpoint } : {}) });
  }
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': config.serviceName }),
    spanProcessors: [processor],
  });
  // Child spans find their parent across awaits (model and tool calls inside a worker attempt).
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  trace.setGlobalTracerProvider(provider);
  let closing: Promise<void> | undefined;
  return {
    shutdown: () =>
      (closing ??= (async () => {
        await provider.shutdown();
        trace.disable();
        context.disable();
      })()),
  };
}
