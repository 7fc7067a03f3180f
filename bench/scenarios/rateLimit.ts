import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../../src/config.ts';
import { keysFor } from '../../src/protocol/keys.ts';
import { startOrchestrator } from '../../src/runtime/orchestrator.ts';
import { startFakeMessagesApi, type FakeResponse, type RecordedRequest } from '../../test/support/fakeMessagesApi.ts';
import { commandStats, connect, fmt, resultTracker, runBatch, scratchRoot, type Bench, type Row } from '../support.ts';

const INSTANCES = 8;
const CONCURRENCY = 16;
/** What the fake API serves at once; one request more is answered 429. */
const API_LIMIT = 20;
/** Real calls take seconds; half a second keeps the run short and the gate's own round trips visible. */
const API_MS = 500;
/** Answers take 500 ± 200 ms: identical latencies would keep the 20 requests in lock-step waves. */
const API_JITTER_MS = 200;
const TASK = 'Add an index to the orders table';

/** db-worker: turn 1 writes the migration, turn 2 reports. */
function respond(r: RecordedRequest): FakeResponse {
  if (r.body.messages.length === 1) {
    return { content: [{ type: 'tool_use', name: 'Write', input: { file_path: 'migrations/001_orders_index.sql', content: 'CREATE INDEX orders_idx ON orders (id);\n' } }], usage: { input_tokens: 2000, output_tokens: 100 } };
  }
  return { content: [{ type: 'text', text: 'Done.\n```json\n{"summary": "index added", "issues": []}\n```' }], usage: { input_tokens: 2200, output_tokens: 60 } };
}

/**
 * 8 listeners (in this process, one domain, one Redis) × concurrency 16
 * against a fake Messages API that serves 20 requests at once and answers
 * 429 beyond: with `--max-model-calls 20` the domain keeps to the API's
 * limit; without it, only the breaker stands between 128 agent loops and the API.
 */
export async function rateLimit(b: Bench): Promise<Row[]> {
  const redis = connect(b.url, 'bench:producer');
  b.defer(() => redis.quit());
  const tracker = await resultTracker(b.url);
  b.defer(() => tracker.close());
  const rows: Row[] = [];
  for (const maxModelCalls of [API_LIMIT, undefined]) {
    // Without the shared limit the run is slow (breaker cooldowns): a smaller batch tells the story.
    const n = maxModelCalls ? (b.quick ? 240 : 600) : b.quick ? 80 : 160;
    // Time each answered request spends at the API (arrival to close), against the time a slot is held per request.
    const atApi = { n: 0, ms: 0 };
    const timed = (r: RecordedRequest): FakeResponse => {
      const t0 = performance.now();
      void r.closed.then(() => {
        atApi.n++;
        atApi.ms += performance.now() - t0;
      });
      return respond(r);
    };
    const api = await startFakeMessagesApi({ maxConcurrent: API_LIMIT, latencyMs: API_MS, latencyJitterMs: API_JITTER_MS, fallback: timed });
    const domain = `benchrl${process.pid}x${maxModelCalls ?? 0}`;
    const workspace = await mkdtemp(join(scratchRoot(), 'orch-bench-rl-'));
    // In this process, as the other rows: 8 listeners share its event loop (separate processes
    // measured slower still on this shared 2-core machine, each paying its own runtime).
    const listeners = [];
    for (let i = 0; i < INSTANCES; i++) {
      const config = loadConfig(
        {
          redisUrl: b.url,
          domain,
          agentId: `${domain}-${i}`,
          workspace,
          model: 'anthropic',
          planner: 'keywords',
          concurrency: CONCURRENCY,
          ...(maxModelCalls !== undefined ? { maxModelCalls } : {}),
          claimTimeoutSeconds: 0.2,
          logLevel: 'silent',
          anthropic: { apiKey: 'bench', baseURL: api.url },
        },
        {},
      );
      listeners.push(await startOrchestrator(config, { logger: pino({ level: 'silent' }) }));
    }
    try {
      const before = await commandStats(redis);
      // Slots held (leases in Redis) against requests open at the API, sampled: where the rest of the time goes.
      const held: number[] = [];
      const open: number[] = [];
      const sampler = setInterval(() => {
        open.push(api.inFlight());
        void redis.zcard(keysFor(domain).modelLeases).then((z) => held.push(z));
      }, 100);
      const cpu = process.cpuUsage();
      const { seconds, failed } = await runBatch(redis, keysFor(domain), tracker, TASK, n);
      const used = process.cpuUsage(cpu);
      clearInterval(sampler);
      const after = await commandStats(redis);
      const gateScripts = (after.evalsha ?? 0) - (before.evalsha ?? 0);
      const mean = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / Math.max(1, xs.length);
      const cpuShare = ((used.user + used.system) / 1e6 / seconds) * 100;
      const ok = api.stats.byStatus.get(200) ?? 0;
      const refused = api.stats.byStatus.get(429) ?? 0;
      const total = ok + refused;
      const allowed = (API_LIMIT * 1000) / API_MS;
      const share = ok / seconds / allowed;
      const refusedShare = total ? refused / total : 0;
      // Little's law: slots held on average ÷ requests per second = time a slot is held per request.
      const heldMs = (mean(held) / (total / seconds)) * 1000;
      const apiMs = atApi.ms / Math.max(1, atApi.n);
      b.log(`${maxModelCalls ? `--max-model-calls ${maxModelCalls}` : 'no shared limit'}: ${n} tasks in ${fmt(seconds, 2)} s, ${ok} answered, ${refused} refused, max ${api.stats.maxInFlight} at once`);
      rows.push({
        measure: `${INSTANCES} instances × concurrency ${CONCURRENCY}, fake API serving ${API_LIMIT} requests at once (${API_MS} ± ${API_JITTER_MS} ms each, 429 beyond), ${maxModelCalls ? `--max-model-calls ${maxModelCalls}` : 'no --max-model-calls (breaker only)'}, ${n} one-worker tasks`,
        value:
          `${fmt(ok / seconds, 1)} answered requests/s = ${fmt(100 * share, 1)} % of the ${allowed}/s the limit allows; ` +
          `${refused} of ${total} requests refused (${fmt(100 * refusedShare, 2)} %)${failed ? `; ${failed} tasks failed` : ''}; ` +
          `mean ${fmt(mean(held), 1)} slots held, ${fmt(mean(open), 1)} requests open at the API; ` +
          (maxModelCalls ? `a slot held ${fmt(heldMs, 0)} ms per request, ${fmt(apiMs, 0)} ms of it at the API; ` : '') +
          `${fmt(gateScripts / Math.max(1, total), 1)} gate scripts per request; CPU ${fmt(cpuShare, 0)} % of one core`,
        ...(maxModelCalls ? { target: '≥ 90 %, < 1 % refused', ok: share >= 0.9 && refusedShare < 0.01 && failed === 0 } : {}),
      });
    } finally {
      await Promise.all(listeners.map((l) => l.stop()));
      await api.close();
      await rm(workspace, { recursive: true, force: true });
    }
  }
  return rows;
}
