import type { TaskOutput } from '../../src/protocol/output.ts';
import { BLOG_API, connect, fmt, push, resultTracker, startListener, taskMessage, type Bench, type Row } from '../support.ts';

const LATENCY = { 'db-worker': 300, 'api-worker': 200, 'auth-worker': 250 };
const CRITICAL_PATH = 300 + 250;
const SEQUENTIAL = 300 + 200 + 250;

/** "db first, then api and auth in parallel": enqueue-to-result time against the critical path and the sequential sum. */
export async function makespan(b: Bench): Promise<Row[]> {
  const redis = connect(b.url, 'bench:producer');
  b.defer(() => redis.quit());
  const tracker = await resultTracker(b.url);
  b.defer(() => tracker.close());
  const { keys, orchestrator } = await startListener(b, { concurrency: 4, scripted: { latencyMs: LATENCY } });
  const domain = keys.pending.slice('tasks:pending:'.length);
  const samples: number[] = [];
  let shape = '';
  const runs = b.quick ? 3 : 10;
  for (let i = 0; i < runs + 1; i++) {
    const t = taskMessage(BLOG_API, domain);
    const result = tracker.wait(t.id);
    const started = performance.now();
    await push(redis, keys, [t]);
    const r = await result;
    if (!r.completed) throw new Error(`task ${t.id} did not complete`);
    if (i > 0) samples.push(r.at - started); // the first one warms up
    const output = JSON.parse((await redis.hget(keys.result(t.id), 'output')) ?? '{}') as TaskOutput;
    shape = (output.plan?.steps ?? []).map((s) => `${s.worker.replace('-worker', '')}${s.depends_on.length ? ` after ${s.depends_on.map((d) => d.replace('-worker', '')).join('+')}` : ''}`).join(', ');
  }
  await orchestrator.stop();
  samples.sort((x, y) => x - y);
  const median = samples[Math.floor(samples.length / 2)]!;
  const worst = samples.at(-1)!;
  const over = (100 * (median - CRITICAL_PATH)) / CRITICAL_PATH;
  b.log(`makespan: median ${fmt(median, 1)} ms, max ${fmt(worst, 1)} ms (plan: ${shape})`);
  return [
    {
      measure: `makespan, "${BLOG_API}" (${shape}; db 300, api 200, auth 250 ms), median of ${runs}`,
      value: `${fmt(median, 1)} ms (max ${fmt(worst, 1)}); critical path ${CRITICAL_PATH}, sequential ${SEQUENTIAL}: +${fmt(over, 1)} %`,
      target: `≤ ${fmt(CRITICAL_PATH * 1.05, 1)} ms (critical path + 5 %)`,
      ok: median <= CRITICAL_PATH * 1.05,
    },
  ];
}
