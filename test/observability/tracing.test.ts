import { SpanStatusCode, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTaskMessage, sendTask } from '../../src/client/send.ts';
import { loadConfig } from '../../src/config.ts';
import { ConfigError } from '../../src/errors.ts';
import { startTracing, type Tracing } from '../../src/observability/otel.ts';
import { startTestOrchestrator } from '../support/orchestrator.ts';
import { client, eventually } from '../support/redis.ts';

describe('tracing switched by the OTEL_* variables', () => {
  it('is off without them: no SDK, spans record nothing', async () => {
    expect(loadConfig({}, {}).tracing.exporter).toBe('none');
    expect(await startTracing(loadConfig({}, {}).tracing)).toBeUndefined();
    expect(trace.getTracer('t').startSpan('s').isRecording()).toBe(false);
  });

  it('reads the endpoint, service name and switches of the specification', () => {
    expect(loadConfig({}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/', OTEL_SERVICE_NAME: 'orch-a' }).tracing).toEqual({
      exporter: 'otlp',
      endpoint: 'http://collector:4318/v1/traces',
      serviceName: 'orch-a',
    });
    expect(loadConfig({}, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/traces' }).tracing.endpoint).toBe('http://c:4318/traces');
    expect(loadConfig({}, { OTEL_TRACES_EXPORTER: 'console' }).tracing.exporter).toBe('console');
    expect(loadConfig({}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true' }).tracing.exporter).toBe('none');
    expect(loadConfig({}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'none' }).tracing.exporter).toBe('none');
    expect(() => loadConfig({}, { OTEL_TRACES_EXPORTER: 'zipkin' })).toThrow(ConfigError);
    expect(() => loadConfig({}, { OTEL_TRACES_EXPORTER: 'zipkin' })).toThrow(/OTEL_TRACES_EXPORTER/);
    expect(() => loadConfig({}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'not a url' })).toThrow(/^OTEL_EXPORTER_OTLP_ENDPOINT: /);
    expect(() => loadConfig({}, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'not a url' })).toThrow(/^OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: /);
    expect(() => loadConfig({ tracing: { endpoint: 'not a url' } }, {})).toThrow(/^tracing\.endpoint: /);
  });
});

describe('one trace per task', () => {
  const exporter = new InMemorySpanExporter();
  let tracing: Tracing | undefined;
  beforeAll(async () => {
    tracing = await startTracing(loadConfig({}, {}).tracing, { exporter });
  });
  afterAll(async () => {
    await tracing?.shutdown();
  });

  async function runTask(over: Parameters<typeof startTestOrchestrator>[0], description: string) {
    const t = await startTestOrchestrator(over);
    const redis = client();
    try {
      const m = buildTaskMessage({ description }, t.config.domain);
      await sendTask(redis, t.keys, m);
      const spans = await eventually(async () => {
        const all = exporter.getFinishedSpans();
        return all.some((s) => s.name === 'task' && s.attributes['task.id'] === m.task_id) ? all : undefined;
      }, 20_000, 'the task span');
      const root = spans.find((s) => s.name === 'task' && s.attributes['task.id'] === m.task_id)!;
      const inTrace = spans.filter((s) => s.spanContext().traceId === root.spanContext().traceId);
      return { root, spans: inTrace, taskId: m.task_id };
    } finally {
      await t.orchestrator.stop();
      redis.disconnect();
    }
  }

  const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;
  const childrenOf = (spans: ReadableSpan[], parent: ReadableSpan) => spans.filter((s) => parentOf(s) === parent.spanContext().spanId);

  it('has the task at the root, planning, each worker attempt, each model call and each tool call under it', async () => {
    const { root, spans, taskId } = await runTask({}, 'Create a REST API for blog posts with authentication');
    expect(parentOf(root)).toBeUndefined();
    expect(root.attributes['task.outcome']).toBe('completed');
    expect(root.status.code).not.toBe(SpanStatusCode.ERROR);

    const top = childrenOf(spans, root);
    expect(top.map((s) => s.name).sort()).toEqual(['plan', 'publish', 'worker api-worker', 'worker auth-worker', 'worker db-worker']);
    const plan = top.find((s) => s.name === 'plan')!;
    expect(plan.attributes['plan.workers']).toEqual(['db-worker', 'auth-worker', 'api-worker']);
    for (const w of top.filter((s) => s.name.startsWith('worker '))) {
      expect(w.attributes).toMatchObject({ 'task.id': taskId, 'worker.attempt': 1 });
      const calls = childrenOf(spans, w);
      const chats = calls.filter((s) => s.name.startsWith('chat '));
      expect(chats.length).toBeGreaterThan(0);
      for (const chat of chats) {
        expect(chat.attributes['gen_ai.operation.name']).toBe('chat');
        expect(chat.name).toBe(`chat ${chat.attributes['gen_ai.request.model']}`);
        expect(chat.attributes['gen_ai.usage.input_tokens']).toBeGreaterThan(0);
        expect(chat.attributes['gen_ai.usage.output_tokens']).toBeGreaterThan(0);
      }
      const tools = calls.filter((s) => s.name.startsWith('execute_tool '));
      expect(tools.length).toBeGreaterThan(0);
      for (const tool of tools) {
        expect(tool.attributes['gen_ai.operation.name']).toBe('execute_tool');
        expect(tool.name).toBe(`execute_tool ${tool.attributes['gen_ai.tool.name']}`);
      }
      // The db worker's writes happen before the api and auth workers start.
      if (w.name === 'worker db-worker') {
        for (const later of top.filter((s) => s.name === 'worker api-worker' || s.name === 'worker auth-worker')) {
          expect(hr(later.startTime)).toBeGreaterThanOrEqual(hr(w.endTime));
        }
      }
    }
  }, 40_000);

  it('marks a failed worker attempt and the partial task as errors', async () => {
    const { root, spans } = await runTask({ scripted: { fail: ['api-worker'] }, workerAttempts: 2 }, 'Create user registration endpoint');
    expect(root.attributes['task.outcome']).toBe('partial');
    expect(root.status.code).toBe(SpanStatusCode.ERROR);
    const api = childrenOf(spans, root).filter((s) => s.name === 'worker api-worker');
    expect(api.map((s) => s.attributes['worker.attempt']).sort()).toEqual([1, 2]);
    for (const attempt of api) {
      expect(attempt.status.code).toBe(SpanStatusCode.ERROR);
      expect(attempt.events.some((e) => e.name === 'exception')).toBe(true);
    }
    const db = childrenOf(spans, root).find((s) => s.name === 'worker db-worker')!;
    expect(db.status.code).not.toBe(SpanStatusCode.ERROR);
  }, 40_000);
});

const hr = (t: [number, number]): number => t[0] * 1e9 + t[1];
