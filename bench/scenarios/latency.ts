import { connect, fmt, percentile, push, REGISTRATION, resultTracker, startListener, taskMessage, type Bench, type Row } from '../support.ts';

/**
 * Enqueue-to-result latency at low load: one three-worker task at a time,
 * zero model latency, from the LPUSH to the PUBLISH on `results:{id}`
 * arriving on a subscription (no polling).
 */
export async function latency(b: Bench): Promise<Row[]> {
  const redis = connect(b.url, 'bench:producer');
  b.defer(() => redis.quit());
  const tracker = await resultTracker(b.url);
  b.defer(() => tracker.close());
  const { keys, orchestrator } = await startListener(b, { concurrency: 8 });
  const domain = keys.pending.slice('tasks:pending:'.length);
  const one = async (): Promise<number> => {
    const t = taskMessage(REGISTRATION, domain);
    const result = tracker.wait(t.id);
    const started = performance.now();
    await push(redis, keys, [t]);
    const r = await result;
    if (!r.completed) throw new Error(`task ${t.id} did not complete`);
    return r.at - started;
  };
  for (let i = 0; i < (b.quick ? 20 : 100); i++) await one(); // warm-up
  const n = b.quick ? 100 : 1000;
  const samples: number[] = [];
  for (let i = 0; i < n; i++) samples.push(await one());
  await orchestrator.stop();
  samples.sort((x, y) => x - y);
  const p50 = percentile(samples, 50);
  const p90 = percentile(samples, 90);
  const p99 = percentile(samples, 99);
  b.log(`latency: p50 ${fmt(p50, 2)} ms, p99 ${fmt(p99, 2)} ms, max ${fmt(samples.at(-1)!, 2)} ms over ${n}`);
  return [
    { measure: `enqueue-to-result latency p50 (p90), one task at a time (${n} tasks)`, value: `${fmt(p50, 2)} ms (${fmt(p90, 2)} ms)` },
    { measure: 'enqueue-to-result latency p99', value: `${fmt(p99, 2)} ms`, target: '< 10 ms', ok: p99 < 10 },
  ];
}
