import { Queue, Worker } from 'bullmq';
import { fmt, withTimeout, type Bench, type Row } from '../support.ts';

/** The baseline: a plain BullMQ worker doing no-op jobs at concurrency 64 on the same Redis. */
export async function bullmqBaseline(b: Bench): Promise<{ rows: Row[]; rate: number }> {
  const { hostname: host, port } = new URL(b.url);
  const connection = { host, port: Number(port), maxRetriesPerRequest: null };
  const name = `bench-noop-${process.pid}`;
  const queue = new Queue(name, { connection });
  b.defer(() => queue.obliterate({ force: true }).finally(() => queue.close()));
  let completed = 0;
  let target = Infinity;
  let finished: () => void = () => undefined;
  const worker = new Worker(name, async () => undefined, { connection, concurrency: 64, autorun: false });
  b.defer(() => worker.close());
  worker.on('completed', () => {
    if (++completed >= target) finished();
  });
  void worker.run();
  await worker.waitUntilReady();
  const run = async (n: number): Promise<number> => {
    completed = 0;
    target = n;
    const done = new Promise<void>((resolve) => (finished = resolve));
    const started = performance.now();
    for (let i = 0; i < n; i += 1000) {
      await queue.addBulk(Array.from({ length: Math.min(1000, n - i) }, (_, j) => ({ name: 'noop', data: { i: i + j } })));
    }
    await withTimeout(done, 120_000, `${n} BullMQ jobs`);
    return (performance.now() - started) / 1000;
  };
  await run(b.quick ? 500 : 2000); // warm-up
  const n = b.quick ? 4000 : 20_000;
  const rates: number[] = [];
  for (let i = 0; i < 3; i++) rates.push(n / (await run(n)));
  const rate = [...rates].sort((x, y) => x - y)[1]!;
  b.log(`bullmq: 3 × ${n} no-op jobs: ${rates.map((r) => fmt(r)).join(', ')} jobs/s`);
  return {
    rows: [{ measure: `BullMQ no-op jobs, c=64, same Redis (median of 3 × ${n} jobs)`, value: `${fmt(rate)} jobs/s (runs ${[...rates].sort((x, y) => x - y).map((r) => fmt(r)).join(' / ')})` }],
    rate,
  };
}
