import { FlowProducer, Queue, Worker, type FlowJob } from 'bullmq';
import { fmt, withTimeout, type Bench, type Row } from '../support.ts';

/** Flows per addBulk call (each is 4 jobs): large enough that the producer is not what limits the rate. */
const BATCH = 250;

/**
 * The baseline issue #14 measures against: a BullMQ flow shaped like our
 * task, a parent job with three no-op children. Children run on one queue,
 * the parent (the "merge", started once its children are done) on another,
 * each with a Worker at concurrency 64 that does nothing; a flow is done when
 * its parent completes. Same Redis, same session as our throughput runs.
 */
export async function flowsBaseline(b: Bench): Promise<{ rows: Row[]; rate: number }> {
  const { hostname: host, port } = new URL(b.url);
  const connection = { host, port: Number(port), maxRetriesPerRequest: null };
  const parentQueue = `bench-flow-parent-${process.pid}`;
  const childQueue = `bench-flow-children-${process.pid}`;
  const producer = new FlowProducer({ connection });
  b.defer(() => producer.close());
  // Queue handles only to obliterate both queues at the end (flows leave their jobs behind).
  for (const name of [parentQueue, childQueue]) {
    const queue = new Queue(name, { connection });
    b.defer(() => queue.obliterate({ force: true }).finally(() => queue.close()));
  }
  let completed = 0;
  let target = Infinity;
  let finished: () => void = () => undefined;
  let failed = 0;
  const children = new Worker(childQueue, async () => undefined, { connection, concurrency: 64, autorun: false });
  const parents = new Worker(parentQueue, async () => undefined, { connection, concurrency: 64, autorun: false });
  b.defer(() => children.close());
  b.defer(() => parents.close());
  for (const w of [children, parents]) w.on('failed', () => void failed++);
  parents.on('completed', () => {
    if (++completed >= target) finished();
  });
  void children.run();
  void parents.run();
  await Promise.all([children.waitUntilReady(), parents.waitUntilReady()]);

  const flow = (i: number): FlowJob => ({
    name: 'merge',
    queueName: parentQueue,
    data: { i },
    children: ['db', 'api', 'auth'].map((worker) => ({ name: worker, queueName: childQueue, data: { i, worker } })),
  });
  const run = async (n: number): Promise<number> => {
    completed = 0;
    target = n;
    const done = new Promise<void>((resolve) => (finished = resolve));
    const started = performance.now();
    for (let i = 0; i < n; i += BATCH) {
      await producer.addBulk(Array.from({ length: Math.min(BATCH, n - i) }, (_, j) => flow(i + j)));
    }
    await withTimeout(done, 180_000, `${n} BullMQ flows`);
    return (performance.now() - started) / 1000;
  };
  await run(b.quick ? 200 : 1000); // warm-up (JIT, connections, scripts loaded)
  // Full: about 5 s a run at the 1,632 flows/s.
  const n = b.quick ? 1000 : 8000;
  const rates: number[] = [];
  for (let i = 0; i < 3; i++) rates.push(n / (await run(n)));
  if (failed > 0) throw new Error(`${failed} BullMQ flow jobs failed`);
  const sorted = [...rates].sort((x, y) => x - y);
  const rate = sorted[1]!;
  b.log(`flows: 3 × ${n} flows (parent + 3 children): ${rates.map((r) => fmt(r)).join(', ')} flows/s`);
  return {
    rows: [
      {
        measure: `BullMQ flows (parent + 3 no-op children), workers c=64, same Redis (median of 3 × ${n} flows)`,
        value: `${fmt(rate)} flows/s (runs ${sorted.map((r) => fmt(r)).join(' / ')})`,
      },
    ],
    rate,
  };
}
