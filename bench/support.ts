import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { loadConfig, type ConfigInput } from '../src/config.ts';
import { keysFor, type Keys } from '../src/protocol/keys.ts';
import { startOrchestrator, type Orchestrator, type OrchestratorOptions } from '../src/runtime/orchestrator.ts';

export const REGISTRATION = 'Create user registration endpoint';
export const BLOG_API = 'Create a REST API for blog posts with authentication';

/** Everything a scenario gets: the private Redis, and a way to register clean-ups run even on error. */
export interface Bench {
  url: string;
  quick: boolean;
  /** Run at the end, newest first, whatever happens. */
  defer(cleanup: () => Promise<unknown> | unknown): void;
  log(line: string): void;
}

/** One row of the results table. */
export interface Row {
  measure: string;
  value: string;
  target?: string;
  /** true: holds, false: does not, undefined: informative only. */
  ok?: boolean;
}

export type Scenario = (b: Bench) => Promise<Row[]>;

export const scratchRoot = (): string => (existsSync('/dev/shm') ? '/dev/shm' : tmpdir());

export function connect(url: string, name: string): Redis {
  return new Redis(url, { connectionName: name, maxRetriesPerRequest: null, lazyConnect: false });
}

let domains = 0;

/** A listener in this process on the bench's Redis: scripted model, silent, its own domain and workspace. */
export async function startListener(
  b: Bench,
  over: ConfigInput = {},
  options: Partial<OrchestratorOptions> = {},
): Promise<{ orchestrator: Orchestrator; keys: Keys; workspace: string; agentId: string }> {
  const domain = `bench${process.pid}x${++domains}`;
  const workspace = await mkdtemp(join(scratchRoot(), 'orch-bench-ws-'));
  b.defer(() => rm(workspace, { recursive: true, force: true }));
  const config = loadConfig(
    {
      redisUrl: b.url,
      domain,
      agentId: `${domain}-a`,
      workspace,
      model: 'scripted',
      planner: 'keywords',
      logLevel: 'silent',
      claimTimeoutSeconds: 0.2,
      resultGraceMs: 2000,
      shutdownGraceMs: 5000,
      ...over,
    },
    {},
  );
  // BENCH_LOG=<prefix>: each listener's debug log, timestamped, to <prefix>.<domain> (how a scenario is profiled by phase).
  const log = process.env.BENCH_LOG;
  const logger = log ? pino({ level: 'debug' }, pino.destination({ dest: `${log}.${domain}`, sync: true })) : pino({ level: 'silent' });
  const orchestrator = await startOrchestrator(config, { logger, ...options });
  b.defer(() => orchestrator.stop());
  return { orchestrator, keys: keysFor(domain), workspace, agentId: config.agentId };
}

/** A task message as the network's Python library writes it. */
export function taskMessage(description: string, domain: string): { id: string; json: string } {
  const id = randomUUID();
  const json = JSON.stringify({
    task_id: id,
    type: 'task_assignment',
    source: 'bench',
    destination: domain,
    timestamp: new Date().toISOString().replace('Z', '+00:00'),
    payload: { description, requirements: [], context: { project_type: 'node-express' } },
    metadata: { priority: 'normal', timeout_seconds: 300 },
  });
  return { id, json };
}

/** Per task, as the peers do (one MULTI): LPUSH, the `results:{id}` record, the wake-up PUBLISH. Pipelined. */
export async function push(redis: Redis, keys: Keys, tasks: readonly { id: string; json: string }[]): Promise<void> {
  const p = redis.pipeline();
  for (const t of tasks) {
    p.call('multi').lpush(keys.pending, t.json).hset(keys.result(t.id), 'task_id', t.id, 'status', 'pending').publish(keys.notifications, t.json).call('exec');
  }
  for (const [error] of (await p.exec()) ?? []) if (error) throw error;
}

/** Producer-side commands `push` sends per task (subtracted from commandstats). */
export const PUSH_COMMANDS: Record<string, number> = { multi: 1, lpush: 1, hset: 1, publish: 1, exec: 1 };

/**
 * Final results as they are published: one PSUBSCRIBE on `results:*`, so
 * nothing is polled. `wait(id)` resolves with the time (performance.now) the
 * final message arrived and whether it was `completed`.
 */
export async function resultTracker(url: string) {
  const sub = connect(url, 'bench:results');
  const done = new Map<string, { at: number; completed: boolean }>();
  const waiters = new Map<string, (r: { at: number; completed: boolean }) => void>();
  sub.on('pmessage', (_pattern: string, channel: string, text: string) => {
    const at = performance.now();
    const id = channel.slice('results:'.length);
    // The message is JSON with `status` first (PROTOCOL.md): no need to parse the whole output.
    const r = { at, completed: text.startsWith('{"status":"completed"') };
    const waiter = waiters.get(id);
    if (waiter) {
      waiters.delete(id);
      waiter(r);
    } else done.set(id, r);
  });
  await sub.psubscribe('results:*');
  return {
    wait(id: string): Promise<{ at: number; completed: boolean }> {
      const seen = done.get(id);
      if (seen) {
        done.delete(id);
        return Promise.resolve(seen);
      }
      return new Promise((resolve) => waiters.set(id, resolve));
    },
    close: () => sub.quit(),
  };
}
export type ResultTracker = Awaited<ReturnType<typeof resultTracker>>;

/** Pushes `n` tasks in batches and waits for every final result; seconds from the first push to the last result. */
export async function runBatch(
  redis: Redis,
  keys: Keys,
  tracker: ResultTracker,
  description: string,
  n: number,
  timeoutMs = 300_000,
): Promise<{ seconds: number; failed: number }> {
  const tasks = Array.from({ length: n }, () => taskMessage(description, keys.pending.slice('tasks:pending:'.length)));
  const waits = tasks.map((t) => tracker.wait(t.id));
  const started = performance.now();
  for (let i = 0; i < n; i += 500) await push(redis, keys, tasks.slice(i, i + 500));
  const results = await withTimeout(Promise.all(waits), timeoutMs, `${n} results`);
  const last = Math.max(...results.map((r) => r.at));
  return { seconds: (last - started) / 1000, failed: results.filter((r) => !r.completed).length };
}

export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Counts, with MONITOR, the commands the listener `agentId` sends while
 * `run` runs, apart (`sent`: its own round-trip items) from those its Lua
 * scripts run inside Redis (`inLua`). Slows Redis: never during a timed run.
 */
export async function monitorCommands(redis: Redis, agentId: string, run: () => Promise<unknown>) {
  const clients = (await redis.client('LIST')) as string;
  const ours = new Set(
    clients
      .split('\n')
      .filter((line) => new RegExp(`\\bname=${agentId}:`).test(line))
      .map((line) => /\baddr=(\S+)/.exec(line)?.[1]),
  );
  const sent = new Map<string, number>();
  const inLua = new Map<string, number>();
  const monitor = await redis.monitor();
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    const into = source === 'lua' ? inLua : ours.has(source) ? sent : undefined;
    const cmd = (args[0] ?? '?').toLowerCase();
    into?.set(cmd, (into.get(cmd) ?? 0) + 1);
  });
  try {
    await run();
    await new Promise((resolve) => setTimeout(resolve, 100)); // the last monitor lines
  } finally {
    monitor.disconnect();
  }
  return { sent, inLua };
}

/** Redis commandstats as { command: calls } (lower-case names). */
export async function commandStats(redis: Redis): Promise<Record<string, number>> {
  const info = await redis.info('commandstats');
  const out: Record<string, number> = {};
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out[m[1]!.toLowerCase()] = Number(m[2]);
  return out;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
export const mb = (bytes: number): string => `${fmt(bytes / 1024 / 1024, 1)} MB`;

/** Heap and RSS after a full collection (node --expose-gc); without it, as they stand. */
export async function settledMemory(): Promise<{ rss: number; heap: number }> {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 3; i++) {
    gc?.();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed };
}

export async function machineLine(redis: Redis): Promise<string> {
  const server = await redis.info('server');
  const version = /redis_version:(\S+)/.exec(server)?.[1] ?? '?';
  return `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, ${fmt(totalmem() / 1024 ** 3, 1)} GB RAM, node ${process.version}, redis ${version}`;
}
