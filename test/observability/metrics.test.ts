import { afterEach, describe, expect, it } from 'vitest';
import { startHealthServer } from '../../src/observability/httpServer.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { ZERO_USAGE } from '../../src/protocol/output.ts';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Scrapes over real HTTP and returns the response and its samples by series. */
async function scrape(url: string) {
  const res = await fetch(`${url}/metrics`);
  const text = await res.text();
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return { res, text, samples };
}

async function serve(metrics: ReturnType<typeof createMetrics>) {
  const server = await startHealthServer({ port: 0, metrics, health: async () => ({ redis: true, listener: 'listening' }) });
  cleanups.push(server.close);
  return server;
}

describe('metrics over /metrics', () => {
  it('exposes every series with the counts the runtime reported', async () => {
    const metrics = createMetrics({ queueDepth: async () => ({ pending: 7, active: 2 }) });
    metrics.taskStarted();
    metrics.taskStarted();
    metrics.taskStarted();
    metrics.taskFinished('completed', 2000);
    metrics.taskFinished('partial', 40_000);
    metrics.workerFinished('db-worker', 'succeeded', 1500);
    metrics.workerFinished('auth-worker', 'failed', 700);
    metrics.workerRetried('auth-worker');
    metrics.workerRetried('auth-worker');
    metrics.tokens('db-worker', { input_tokens: 100, output_tokens: 40, cache_read_input_tokens: 30, cache_creation_input_tokens: 5 });
    metrics.tokens('db-worker', { ...ZERO_USAGE, input_tokens: 1 });
    metrics.deadLettered();
    const server = await serve(metrics);

    const { res, samples } = await scrape(server.url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(samples.get('orchestrator_tasks_total{outcome="completed"}')).toBe(1);
    expect(samples.get('orchestrator_tasks_total{outcome="partial"}')).toBe(1);
    expect(samples.get('orchestrator_tasks_in_flight')).toBe(1);
    expect(samples.get('orchestrator_task_duration_seconds_count{outcome="partial"}')).toBe(1);
    expect(samples.get('orchestrator_task_duration_seconds_sum{outcome="partial"}')).toBe(40);
    expect(samples.get('orchestrator_task_duration_seconds_bucket{le="30",outcome="partial"}')).toBe(0);
    expect(samples.get('orchestrator_task_duration_seconds_bucket{le="60",outcome="partial"}')).toBe(1);
    expect(samples.get('orchestrator_worker_duration_seconds_count{worker="db-worker",status="succeeded"}')).toBe(1);
    expect(samples.get('orchestrator_worker_duration_seconds_sum{worker="auth-worker",status="failed"}')).toBe(0.7);
    expect(samples.get('orchestrator_worker_retries_total{worker="auth-worker"}')).toBe(2);
    expect(samples.get('orchestrator_tokens_total{worker="db-worker",kind="input"}')).toBe(101);
    expect(samples.get('orchestrator_tokens_total{worker="db-worker",kind="output"}')).toBe(40);
    expect(samples.get('orchestrator_tokens_total{worker="db-worker",kind="cache_read"}')).toBe(30);
    expect(samples.get('orchestrator_tokens_total{worker="db-worker",kind="cache_write"}')).toBe(5);
    expect(samples.get('orchestrator_dead_letters_total')).toBe(1);
    expect(samples.get('orchestrator_queue_depth{queue="pending"}')).toBe(7);
    expect(samples.get('orchestrator_queue_depth{queue="active"}')).toBe(2);
    // The process's default metrics, in the private registry.
    expect(samples.has('process_cpu_user_seconds_total')).toBe(true);
    expect(samples.has('nodejs_eventloop_lag_seconds')).toBe(true);
  });

  it('reads the queue depth afresh at each scrape', async () => {
    let pending = 1;
    const metrics = createMetrics({ queueDepth: async () => ({ pending: pending++, active: 0 }), defaultMetrics: false });
    const server = await serve(metrics);
    expect((await scrape(server.url)).samples.get('orchestrator_queue_depth{queue="pending"}')).toBe(1);
    expect((await scrape(server.url)).samples.get('orchestrator_queue_depth{queue="pending"}')).toBe(2);
  });

  it('still answers when the queue depth cannot be read, without stale queue series', async () => {
    let fail = false;
    const errors: unknown[] = [];
    const metrics = createMetrics({
      queueDepth: async () => {
        if (fail) throw new Error('redis down');
        return { pending: 3, active: 1 };
      },
      onCollectError: (e) => errors.push(e),
      defaultMetrics: false,
    });
    metrics.deadLettered();
    const server = await serve(metrics);
    expect((await scrape(server.url)).samples.get('orchestrator_queue_depth{queue="pending"}')).toBe(3);
    fail = true;
    const { res, samples } = await scrape(server.url);
    expect(res.status).toBe(200);
    expect(samples.has('orchestrator_queue_depth{queue="pending"}')).toBe(false);
    expect(samples.get('orchestrator_dead_letters_total')).toBe(1);
    expect(errors).toEqual([new Error('redis down')]);
  });

  it('keeps each instance in its own registry', async () => {
    const a = createMetrics({ defaultMetrics: false });
    const b = createMetrics({ defaultMetrics: false });
    a.deadLettered();
    expect(await a.registry.getSingleMetricAsString('orchestrator_dead_letters_total')).toContain('orchestrator_dead_letters_total 1');
    expect(await b.registry.getSingleMetricAsString('orchestrator_dead_letters_total')).toContain('orchestrator_dead_letters_total 0');
  });

  it('counts a task that ends without a duration (crash, handoff) but does not time it', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    metrics.taskStarted();
    metrics.taskFinished('handed_off');
    const server = await serve(metrics);
    const { samples } = await scrape(server.url);
    expect(samples.get('orchestrator_tasks_total{outcome="handed_off"}')).toBe(1);
    expect(samples.get('orchestrator_tasks_in_flight')).toBe(0);
    expect(samples.has('orchestrator_task_duration_seconds_count{outcome="handed_off"}')).toBe(false);
  });
});

describe('the cost of a model without a price', () => {
  it('is counted as an unpriced call, not as 0 dollars', async () => {
    const metrics = createMetrics({ queueDepth: async () => ({ pending: 0, active: 0 }) });
    metrics.cost('db-worker', 'claude-sonnet-5-5', 0.25);
    metrics.cost('db-worker', 'claude-next-1', null);
    metrics.cost('db-worker', 'claude-next-1', null);
    const { samples } = await scrape((await serve(metrics)).url);
    expect(samples.get('orchestrator_cost_usd_total{worker="db-worker",model="claude-sonnet-5-5"}')).toBe(0.25);
    expect(samples.has('orchestrator_cost_usd_total{worker="db-worker",model="claude-next-1"}')).toBe(false);
    expect(samples.get('orchestrator_unpriced_model_calls_total{worker="db-worker",model="claude-next-1"}')).toBe(2);
  });
});
