import { readFileSync, writeFileSync } from 'node:fs';
import { startLocalRedis, type LocalRedis } from '../src/redis/localServer.ts';
import { bullmqBaseline } from './scenarios/bullmq.ts';
import { flowsBaseline } from './scenarios/flows.ts';
import { latency } from './scenarios/latency.ts';
import { makespan } from './scenarios/makespan.ts';
import { memory } from './scenarios/memory.ts';
import { sandboxCost } from './scenarios/sandbox.ts';
import { boxCost } from './scenarios/box.ts';
import { isolationCost } from './scenarios/isolation.ts';
import { remoteMerges } from './scenarios/remote.ts';
import { rateLimit } from './scenarios/rateLimit.ts';
import { scaleout } from './scenarios/scaleout.ts';
import { slowModel } from './scenarios/slowModel.ts';
import { throughput } from './scenarios/throughput.ts';
import { connect, fmt, machineLine, type Bench, type Row } from './support.ts';

// npm run bench [-- --quick] [-- --only throughput,bullmq,flows,scaleout]
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const onlyArg = args.find((a) => a.startsWith('--only='))?.slice('--only='.length) ?? (args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined);
const NAMES = ['latency', 'makespan', 'memory', 'throughput', 'slow', 'ratelimit', 'bullmq', 'flows', 'scaleout', 'sandbox', 'box', 'isolation', 'remote'] as const;
const only = onlyArg?.split(',').map((s) => s.trim()).filter(Boolean);
const unknown = only?.filter((n) => !(NAMES as readonly string[]).includes(n)) ?? [];
if (unknown.length || (args.includes('--only') && !onlyArg)) {
  process.stderr.write(`usage: npm run bench -- [--quick] [--only ${NAMES.join(',')}]${unknown.length ? `\nunknown: ${unknown.join(', ')}` : ''}\n`);
  process.exit(2);
}
const wanted = (name: (typeof NAMES)[number]): boolean => only === undefined || only.includes(name);
if (!(globalThis as { gc?: unknown }).gc) process.stderr.write('note: run with node --expose-gc for memory after GC (npm run bench does)\n');

const log = (line: string): void => void process.stderr.write(`  ${line}\n`);
let cleanups: (() => unknown)[] = [];
async function cleanUp(): Promise<void> {
  const list = cleanups.reverse();
  cleanups = [];
  for (const f of list) await Promise.resolve().then(f).catch((error: unknown) => log(`clean-up: ${String(error)}`));
}

let redis: LocalRedis | undefined;
let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: cleaning up`);
    void cleanUp().finally(() => redis?.stop()).finally(() => process.exit(130));
  });
}

/** Runs one scenario with its own clean-ups, done whatever happens. */
async function scenario<T>(name: string, run: (b: Bench) => Promise<T>): Promise<T> {
  log(`${name} ...`);
  const b: Bench = { url: redis!.url, quick, defer: (f) => void cleanups.push(f), log };
  try {
    return await run(b);
  } finally {
    await cleanUp();
    const r = connect(redis!.url, 'bench:flush');
    await r.flushall();
    await r.quit();
  }
}

const rows: Row[] = [];
let machine = '';
let failed = false;
try {
  redis = await startLocalRedis();
  {
    const r = connect(redis.url, 'bench:info');
    machine = await machineLine(r);
    await r.quit();
  }
  log(`${machine}; ${quick ? 'quick run' : 'full run'}`);
  if (wanted('latency')) rows.push(...(await scenario('latency', latency)));
  if (wanted('makespan')) rows.push(...(await scenario('makespan', makespan)));
  // Memory before the throughput runs: RSS only grows, and they would set its high-water mark.
  if (wanted('memory')) rows.push(...(await scenario('memory', memory)));
  let at64: number | undefined;
  if (wanted('throughput')) {
    const t = await scenario('throughput', throughput);
    at64 = t.at64;
    const sent = t.perTask.sent.reduce((sum, [, v]) => sum + v, 0);
    rows.push(...t.rows, {
      measure: 'Redis commands per task at c=64, listener side (commandstats; producer LPUSH/HSET/PUBLISH excluded)',
      value: `${fmt(t.perTask.total, 1)} in all: ${t.perTask.top.map(([c, v]) => `${c} ${fmt(v, 1)}`).join(', ')}`,
    }, {
      measure: 'of which sent by the listener (MONITOR, 200 tasks) vs run inside its Lua scripts',
      value: `${fmt(sent, 1)} sent (${t.perTask.sent.map(([c, v]) => `${c} ${fmt(v, 2)}`).join(', ')}), ${fmt(t.perTask.inLua, 1)} inside Lua`,
    });
  }
  if (wanted('slow')) rows.push(...(await scenario('slow model', slowModel)));
  if (wanted('sandbox')) rows.push(...(await scenario('sandbox', sandboxCost)));
  if (wanted('box')) rows.push(...(await scenario('box', boxCost)));
  if (wanted('isolation')) rows.push(...(await scenario('box isolation', isolationCost)));
  if (wanted('remote')) rows.push(...(await scenario('remote mode', remoteMerges)));
  if (wanted('ratelimit')) rows.push(...(await scenario('shared rate limit', rateLimit)));
  if (wanted('bullmq')) {
    const q = await scenario('bullmq', bullmqBaseline);
    rows.push(...q.rows);
    if (at64 !== undefined) {
      rows.push({
        measure: 'three-worker tasks/s at c=64 ÷ BullMQ no-op jobs/s',
        value: `${fmt(at64 / q.rate, 3)} (BullMQ is ${fmt(q.rate / at64, 1)}× faster)`,
        target: '≥ 0.5 (within 2×)',
        ok: at64 / q.rate >= 0.5,
      });
    }
  }
  if (wanted('flows')) {
    const f = await scenario('bullmq flows', flowsBaseline);
    rows.push(...f.rows);
    if (at64 !== undefined) {
      rows.push({
        measure: 'three-worker tasks/s at c=64 ÷ BullMQ flows/s',
        value: `${fmt(at64 / f.rate, 2)}× (${fmt(at64)} tasks/s against ${fmt(f.rate)} flows/s)`,
        target: '≥ 1.0',
        ok: at64 / f.rate >= 1,
      });
    }
  }
  // Real listener processes (the CLI), not the in-process listener of the scenarios above.
  if (wanted('scaleout')) rows.push(...(await scenario('scale-out', scaleout)));
} catch (error) {
  failed = true;
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
} finally {
  await cleanUp();
  await redis?.stop();
}

const bullmqVersion = (JSON.parse(readFileSync(new URL('../node_modules/bullmq/package.json', import.meta.url), 'utf8')) as { version: string }).version;
const table = [
  '| measure | result | target | holds |',
  '| --- | --- | --- | --- |',
  ...rows.map((r) => `| ${r.measure.replaceAll('|', '\\|')} | ${r.value.replaceAll('|', '\\|')} | ${r.target ?? ''} | ${r.ok === undefined ? '' : r.ok ? 'yes' : '**no**'} |`),
].join('\n');
process.stdout.write(`\n${table}\n\nMachine: ${machine}\n`);
if (rows.length > 0) {
  const md = [
    '# Benchmark results',
    '',
    `Written by \`npm run bench${quick ? ' -- --quick' : ''}${only ? ` -- --only ${only.join(',')}` : ''}\` on ${new Date().toISOString()}.`,
    '',
    `Machine: ${machine}. Scripted model, keyword planner, listener in the bench process, private redis-server (no persistence), workspaces on ${process.platform === 'linux' ? '/dev/shm' : 'the temp folder'}; BullMQ ${bullmqVersion}.`,
    '',
    table,
    '',
  ].join('\n');
  // Only a full run replaces the committed table; a partial one (--only, --quick) goes beside it.
  const file = only || quick ? './results.partial.md' : './results.md';
  writeFileSync(new URL(file, import.meta.url), md);
  process.stdout.write(`written to bench/${file.slice(2)}\n`);
}
process.exitCode = failed ? 1 : 0;
// Everything is closed above; should a stray handle remain, do not hang.
setTimeout(() => process.exit(process.exitCode ?? 0), 5000).unref();
