import { spawn, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { keysFor, type Keys } from '../../src/protocol/keys.ts';
import { connect, fmt, REGISTRATION, resultTracker, runBatch, scratchRoot, withTimeout, type Bench, type ResultTracker, type Row } from '../support.ts';

const BIN = new URL('../../bin/backend-orchestrator.mjs', import.meta.url).pathname;
const CONCURRENCY = 64;
const RUNS = 3;
/** Tasks per timed run (full, quick) for 1 and 2 processes: about 5 s a run on the Benchmark section's machine. */
const SIZES: Record<number, [full: number, quick: number]> = { 1: [2000, 400], 2: [4000, 800] };

/** Clock ticks per second of /proc/<pid>/stat. */
const CLK_TCK = ((): number => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU ms (user + system) from a /proc stat file; NaN where there is none. */
function statCpuMs(file: string): number {
  try {
    const stat = readFileSync(file, 'utf8');
    // Fields after the command name (which may hold spaces), counted from field 3: utime is 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) / CLK_TCK) * 1000;
  } catch {
    return NaN;
  }
}

/**
 * CPU ms a process has used: all its threads, and its main thread alone (the
 * event loop; the rest is V8's GC and compiler threads and libuv's pool).
 */
const processCpuMs = (pid: number): { all: number; main: number } => ({
  all: statCpuMs(`/proc/${pid}/stat`),
  main: statCpuMs(`/proc/${pid}/task/${pid}/stat`),
});

/** Redis' own CPU ms (INFO cpu, user + system, all its threads). */
async function redisCpuMs(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const get = (name: string): number => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? NaN);
  return (get('used_cpu_user') + get('used_cpu_sys')) * 1000;
}

interface ListenerProcess {
  agentId: string;
  pid: number;
  /** stderr and stdout so far (log level warn: normally empty). */
  output(): string;
  /** Rejects when the process exits before it was asked to stop. */
  died: Promise<never>;
  /** SIGTERM, then waits for the exit; throws when it does not exit 0. */
  stop(): Promise<void>;
}

/**
 * One `backend-orchestrator start` process, as deployed: the real CLI on the
 * bench's Redis, scripted model without latency, keyword planner, its own
 * agent id and workspace, the shared domain. Resolves once it is in the
 * domain's registry with a live heartbeat.
 */
async function startProcess(b: Bench, redis: Redis, keys: Keys, domain: string, agentId: string): Promise<ListenerProcess> {
  const workspace = await mkdtemp(join(scratchRoot(), 'orch-bench-scale-'));
  b.defer(() => rm(workspace, { recursive: true, force: true }));
  const args = [
    '--redis', b.url,
    '--domain', domain,
    'start',
    '--agent-id', agentId,
    '--workspace', workspace,
    '--model', 'scripted',
    '--planner', 'keywords',
    '--concurrency', String(CONCURRENCY),
    '--claim-timeout', '0.2',
    '--shutdown-grace-ms', '5000',
    '--log-level', 'warn',
  ];
  // A minimal environment: no API key, no OpenTelemetry, no scripted failures; a model that answers at once.
  // The bin itself, so its shebang's Node flags apply as in production.
  const child = spawn(BIN, args, {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ORCH_SCRIPTED_LATENCY_MS: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const collect = (chunk: Buffer): void => void (out = (out + chunk.toString()).slice(-20_000));
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  let stopping = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    // Could not be started at all: no 'exit' follows.
    child.once('error', (error) => {
      out += `spawn: ${String(error)}\n`;
      resolve({ code: null, signal: null });
    });
  });
  const died = exited.then(({ code, signal }): never => {
    throw new Error(`listener process ${agentId} (pid ${child.pid}) died: exit ${code ?? signal}${out ? `\n${out.trim()}` : ''}`);
  });
  died.catch(() => undefined); // raced below; never an unhandled rejection
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    const gone = child.exitCode !== null || child.signalCode !== null;
    if (!gone) child.kill('SIGTERM');
    const exit = await withTimeout(exited, 20_000, `listener process ${agentId} to stop`).catch((error: unknown) => {
      child.kill('SIGKILL');
      throw error;
    });
    if (exit.code !== 0) {
      throw new Error(`listener process ${agentId} exited ${exit.code ?? exit.signal} ${gone ? 'before it was stopped' : 'on SIGTERM'}${out ? `\n${out.trim()}` : ''}`);
    }
  };
  // Whatever happens, the process does not outlive the scenario.
  b.defer(async () => {
    await stop().catch((error: unknown) => b.log(`scaleout: ${String(error)}`));
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let polling = true;
  const registered = (async () => {
    while (polling) {
      const [member, beating] = await Promise.all([redis.sismember(keys.agentsOfDomain, agentId), redis.exists(keys.agentHeartbeat(agentId))]);
      if (member === 1 && beating === 1) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  try {
    await withTimeout(Promise.race([registered, died]), 60_000, `listener process ${agentId} to register`);
  } finally {
    polling = false;
  }
  return { agentId, pid: child.pid!, output: () => out, died, stop };
}

interface Phase {
  processes: number;
  n: number;
  rates: number[];
  rate: number;
  failed: number;
  /** CPU ms per task over the timed runs: each listener process (all threads, main thread), Redis, and the bench process (producer and result tracker). */
  cpuPerTask: { listeners: number[]; listenerMain: number[]; redis: number; bench: number };
  /** Share of one core each listener process used over the timed runs, all threads and the main thread. */
  busy: number[];
  busyMain: number[];
}

/**
 * Scale-out (issue #14): real listener processes on one Redis and one
 * domain, 1 then 2, each at concurrency 64, fed 3-worker tasks with a 0 ms
 * model by the bench process. Reports tasks/s and where the CPU goes.
 */
export async function scaleout(b: Bench): Promise<Row[]> {
  const domain = `scale${process.pid}`;
  const keys = keysFor(domain);
  const redis = connect(b.url, 'bench:producer');
  b.defer(() => redis.quit());
  const tracker = await resultTracker(b.url);
  b.defer(() => tracker.close());
  const procs: ListenerProcess[] = [];
  const phases: Phase[] = [];
  for (const count of [1, 2]) {
    while (procs.length < count) procs.push(await startProcess(b, redis, keys, domain, `${domain}-p${procs.length + 1}`));
    phases.push(await phase(b, redis, keys, tracker, procs));
  }
  // Stopped here, not only in the clean-ups, so a bad exit fails the scenario.
  for (const p of procs) await p.stop();
  for (const p of procs) {
    const warnings = p.output().trim();
    if (warnings) b.log(`scaleout: ${p.agentId} logged:\n${warnings.slice(0, 2000)}`);
  }

  const [one, two] = phases as [Phase, Phase];
  const ratio = two.rate / one.rate;
  const ms = (v: number): string => `${fmt(v, 2)} ms`;
  const row = (p: Phase): Row => ({
    measure: `scale-out, ${p.processes} listener process${p.processes > 1 ? 'es' : ''} (\`start\`, c=${CONCURRENCY} each), 3-worker tasks, 0 ms model, one Redis (median of ${RUNS} × ${p.n} tasks)`,
    value:
      `${fmt(p.rate)} tasks/s (runs ${[...p.rates].sort((x, y) => x - y).map((r) => fmt(r)).join(' / ')})${p.failed ? ` (${p.failed} failed)` : ''}; ` +
      `CPU per task: listener${p.processes > 1 ? 's' : ''} ${p.cpuPerTask.listeners.map(ms).join(' + ')}, of which main thread ${p.cpuPerTask.listenerMain.map(ms).join(' + ')} ` +
      `(busy ${p.busy.map((x, i) => `${fmt(x * 100)} %, main thread ${fmt(p.busyMain[i]! * 100)} %`).join('; ')} of a core), ` +
      `Redis ${ms(p.cpuPerTask.redis)}, bench producer ${ms(p.cpuPerTask.bench)}`,
  });
  const redisPerTask = (one.cpuPerTask.redis + two.cpuPerTask.redis) / 2;
  return [
    row(one),
    row(two),
    {
      measure: '2 listener processes ÷ 1 (tasks/s)',
      value: `${fmt(ratio, 2)}×`,
      target: '≥ 1.8×',
      ok: ratio >= 1.8 && one.failed === 0 && two.failed === 0,
    },
    {
      measure: 'Redis CPU per task (INFO cpu used_cpu_user + used_cpu_sys over the timed runs; listeners, producer and result tracker together)',
      value: `${ms(one.cpuPerTask.redis)} at 1 process, ${ms(two.cpuPerTask.redis)} at 2: one Redis (one core) would serve about ${fmt(Math.round(1000 / redisPerTask / 100) * 100)} tasks/s`,
    },
  ];
}

async function phase(b: Bench, redis: Redis, keys: Keys, tracker: ResultTracker, procs: readonly ListenerProcess[]): Promise<Phase> {
  const count = procs.length;
  const guarded = <T>(p: Promise<T>): Promise<T> => Promise.race([p, ...procs.map((x) => x.died)]);
  await guarded(runBatch(redis, keys, tracker, REGISTRATION, b.quick ? 50 * count : 300 * count)); // warm-up (JIT of every process)
  const n = SIZES[count]?.[b.quick ? 1 : 0] ?? 2000 * count;
  const cpu0 = procs.map((p) => processCpuMs(p.pid));
  const redis0 = await redisCpuMs(redis);
  const bench0 = process.cpuUsage();
  const wall0 = performance.now();
  const rates: number[] = [];
  let failed = 0;
  for (let run = 0; run < RUNS; run++) {
    const r = await guarded(runBatch(redis, keys, tracker, REGISTRATION, n));
    rates.push(n / r.seconds);
    failed += r.failed;
  }
  const wall = performance.now() - wall0;
  const cpu1 = procs.map((p) => processCpuMs(p.pid));
  const listenerMs = cpu1.map((c, i) => c.all - cpu0[i]!.all);
  const mainMs = cpu1.map((c, i) => c.main - cpu0[i]!.main);
  const redisMs = (await redisCpuMs(redis)) - redis0;
  const benchUsage = process.cpuUsage(bench0);
  const benchMs = (benchUsage.user + benchUsage.system) / 1000;
  const tasks = n * RUNS;
  const rate = [...rates].sort((x, y) => x - y)[Math.floor(RUNS / 2)]!;
  const result: Phase = {
    processes: count,
    n,
    rates,
    rate,
    failed,
    cpuPerTask: { listeners: listenerMs.map((v) => v / tasks), listenerMain: mainMs.map((v) => v / tasks), redis: redisMs / tasks, bench: benchMs / tasks },
    busy: listenerMs.map((v) => v / wall),
    busyMain: mainMs.map((v) => v / wall),
  };
  b.log(
    `scaleout ${count} process${count > 1 ? 'es' : ''}: ${RUNS} × ${n} tasks: ${rates.map((r) => fmt(r)).join(', ')} tasks/s${failed ? `, ${failed} not completed` : ''}; ` +
      `CPU ms/task listeners ${result.cpuPerTask.listeners.map((v) => fmt(v, 2)).join(' + ')} (main threads ${result.cpuPerTask.listenerMain.map((v) => fmt(v, 2)).join(' + ')}), Redis ${fmt(result.cpuPerTask.redis, 2)}, bench ${fmt(result.cpuPerTask.bench, 2)}; ` +
      `busy: listeners ${result.busy.map((x) => `${fmt(x * 100)} %`).join(', ')} (main threads ${result.busyMain.map((x) => `${fmt(x * 100)} %`).join(', ')}), Redis ${fmt((redisMs / wall) * 100)} %, bench ${fmt((benchMs / wall) * 100)} % of a core`,
  );
  return result;
}
