import { createScriptedModel } from '../../src/models/scripted.ts';
import { connect, fmt, mb, REGISTRATION, resultTracker, runBatch, settledMemory, startListener, type Bench, type Row } from '../support.ts';

/**
 * Memory per task in flight (RSS and heap after GC with `inFlight` tasks
 * held in their first worker by a slow model, against the same listener
 * idle), then memory after 1,000 against after 20,000 tasks (no growth).
 * Runs before the throughput runs, so RSS has not yet been raised by them.
 */
export async function memory(b: Bench): Promise<Row[]> {
  const redis = connect(b.url, 'bench:producer');
  b.defer(() => redis.quit());
  const tracker = await resultTracker(b.url);
  b.defer(() => tracker.close());
  let modelMs = 0;
  const model = createScriptedModel({ latencyMs: () => modelMs, fail: new Set() });
  const rows: Row[] = [];

  {
    const inFlight = b.quick ? 128 : 512;
    const { keys, orchestrator } = await startListener(b, { concurrency: inFlight }, { model });
    await runBatch(redis, keys, tracker, REGISTRATION, 64); // warm the code paths, not the heap
    const idle = await settledMemory();
    modelMs = 4000;
    const batch = runBatch(redis, keys, tracker, REGISTRATION, inFlight);
    const deadline = Date.now() + 30_000;
    while ((await redis.llen(keys.active)) < inFlight || (await redis.llen(keys.pending)) > 0) {
      if (Date.now() > deadline) throw new Error('the tasks were not all claimed within 30 s');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await new Promise((resolve) => setTimeout(resolve, 500)); // every claim reaches its first worker
    const busy = await settledMemory();
    await batch;
    modelMs = 0;
    await orchestrator.stop();
    const rss = (busy.rss - idle.rss) / inFlight;
    const heap = (busy.heap - idle.heap) / inFlight;
    b.log(`memory: ${inFlight} in flight: heap +${mb(busy.heap - idle.heap)}, rss +${mb(busy.rss - idle.rss)}`);
    rows.push({
      measure: `memory per task in flight (${inFlight} tasks held in a 4 s model call, after GC)`,
      value: `RSS ${fmt(rss / 1024, 1)} KB, heap ${fmt(heap / 1024, 1)} KB`,
    });
  }

  {
    const [first, total] = b.quick ? [1000, 4000] : [1000, 20_000];
    const { keys, orchestrator } = await startListener(b, { concurrency: 64 }, { model });
    await runBatch(redis, keys, tracker, REGISTRATION, first);
    const early = await settledMemory();
    for (let done = first; done < total; done += 2000) await runBatch(redis, keys, tracker, REGISTRATION, Math.min(2000, total - done));
    const late = await settledMemory();
    await orchestrator.stop();
    const grew = late.heap - early.heap;
    b.log(`memory: after ${first} heap ${mb(early.heap)} rss ${mb(early.rss)}; after ${total} heap ${mb(late.heap)} rss ${mb(late.rss)}`);
    rows.push({
      measure: `memory after ${fmt(first)} → after ${fmt(total)} tasks, c=64 (after GC)`,
      value: `heap ${mb(early.heap)} → ${mb(late.heap)} (${grew >= 0 ? '+' : ''}${fmt((grew / (total - first)), 1)} B/task), RSS ${mb(early.rss)} → ${mb(late.rss)}`,
      target: 'flat (heap growth < 5 MB)',
      ok: grew < 5 * 1024 * 1024,
    });
  }
  return rows;
}
