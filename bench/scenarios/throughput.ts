import { commandStats, connect, fmt, monitorCommands, PUSH_COMMANDS, REGISTRATION, resultTracker, runBatch, startListener, type Bench, type Row } from '../support.ts';

/** Tasks per run at each concurrency (full, quick): enough for a stable rate. */
const SIZES: Record<number, [full: number, quick: number]> = { 1: [300, 60], 8: [1000, 200], 64: [2000, 400] };
/** Runs per concurrency; the median rate is reported (the machine is shared, single runs vary). */
const RUNS = 3;

export interface ThroughputResult {
  rows: Row[];
  /** tasks/s at c=64, for the BullMQ ratio. */
  at64: number;
  /**
   * Listener-side Redis commands per task at c=64: all of them from
   * commandstats (inside Lua included), and from MONITOR those it sends
   * (round-trip items) apart from those its scripts run.
   */
  perTask: { total: number; top: [string, number][]; sent: [string, number][]; inLua: number };
}

/** Three-worker tasks, zero model latency, at concurrency 1, 8 and 64; commandstats of the c=64 runs. */
export async function throughput(b: Bench, levels: readonly number[] = [1, 8, 64]): Promise<ThroughputResult> {
  const rows: Row[] = [];
  let at64 = 0;
  let perTask: ThroughputResult['perTask'] = { total: 0, top: [], sent: [], inLua: 0 };
  const redis = connect(b.url, 'bench:producer');
  b.defer(() => redis.quit());
  const tracker = await resultTracker(b.url);
  b.defer(() => tracker.close());
  for (const c of levels) {
    const { keys, orchestrator, agentId } = await startListener(b, { concurrency: c });
    await runBatch(redis, keys, tracker, REGISTRATION, b.quick ? 20 : 200); // warm-up (JIT, connections)
    const n = SIZES[c]?.[b.quick ? 1 : 0] ?? 1000;
    await redis.config('RESETSTAT');
    const rates: number[] = [];
    let failed = 0;
    for (let run = 0; run < RUNS; run++) {
      const r = await runBatch(redis, keys, tracker, REGISTRATION, n);
      rates.push(n / r.seconds);
      failed += r.failed;
    }
    const stats = await commandStats(redis);
    const monitored = c === 64 ? await monitorCommands(redis, agentId, () => runBatch(redis, keys, tracker, REGISTRATION, 200)) : undefined;
    await orchestrator.stop();
    const sorted = [...rates].sort((x, y) => x - y);
    const rate = sorted[Math.floor(RUNS / 2)]!;
    b.log(`throughput c=${c}: ${RUNS} × ${n} tasks: ${rates.map((r) => fmt(r)).join(', ')} tasks/s${failed ? `, ${failed} not completed` : ''}`);
    if (c === 64 && monitored) {
      at64 = rate;
      const total = n * RUNS;
      const own = Object.entries(stats)
        .map(([cmd, calls]): [string, number] => [cmd, (calls - (PUSH_COMMANDS[cmd] ?? 0) * total) / total])
        .filter(([cmd, calls]) => calls > 0.005 && !['config', 'info', 'psubscribe'].includes(cmd))
        .sort((x, y) => y[1] - x[1]);
      const perRun = (m: Map<string, number>): [string, number][] =>
        [...m].map(([cmd, calls]): [string, number] => [cmd, calls / 200]).sort((x, y) => y[1] - x[1]);
      perTask = {
        total: own.reduce((sum, [, v]) => sum + v, 0),
        top: own,
        sent: perRun(monitored.sent),
        inLua: [...monitored.inLua.values()].reduce((sum, v) => sum + v, 0) / 200,
      };
    }
    rows.push({
      measure: `throughput, 3-worker tasks, 0 ms model, c=${c} (median of ${RUNS} × ${n} tasks)`,
      value: `${fmt(rate)} tasks/s (runs ${sorted.map((r) => fmt(r)).join(' / ')})${failed ? ` (${failed} failed)` : ''}`,
      ...(c === 64 ? { target: '≥ 2,000 tasks/s', ok: rate >= 2000 && failed === 0 } : {}),
    });
  }
  return { rows, at64, perTask };
}
