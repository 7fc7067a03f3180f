import { connect, fmt, REGISTRATION, resultTracker, runBatch, startListener, type Bench, type Row } from '../support.ts';

const MODEL_MS = 1000;
/** A three-worker task is two model latencies long (db, then api and auth together). */
const TASK_MS = 2 * MODEL_MS;

/** Throughput with 1 s per worker run, at concurrency 1, 8 and 64: how close to c / 2 s it gets. */
export async function slowModel(b: Bench): Promise<Row[]> {
  const redis = connect(b.url, 'bench:producer');
  b.defer(() => redis.quit());
  const tracker = await resultTracker(b.url);
  b.defer(() => tracker.close());
  const rows: Row[] = [];
  let single = 0;
  const waves = b.quick ? 2 : 4;
  for (const c of [1, 8, 64]) {
    const { keys, orchestrator } = await startListener(b, { concurrency: c, scripted: { defaultLatencyMs: MODEL_MS } });
    const n = waves * c;
    const { seconds, failed } = await runBatch(redis, keys, tracker, REGISTRATION, n);
    await orchestrator.stop();
    const rate = n / seconds;
    const ideal = c / (TASK_MS / 1000);
    const efficiency = rate / ideal;
    if (c === 1) single = rate;
    b.log(`1 s model c=${c}: ${n} tasks in ${fmt(seconds, 2)} s = ${fmt(rate, 2)} tasks/s (${fmt(100 * efficiency, 1)} % of ${ideal}/s)`);
    rows.push({
      measure: `throughput, 1 s model latency, c=${c} (${n} tasks)`,
      value: `${fmt(rate, 2)} tasks/s = ${fmt(100 * efficiency, 1)} % of c / 2 s${c > 1 && single ? `, ${fmt(rate / single, 1)}× c=1` : ''}${failed ? ` (${failed} failed)` : ''}`,
      target: '≥ 95 % of c / 2 s (linear)',
      ok: efficiency >= 0.95 && failed === 0,
    });
  }
  return rows;
}
