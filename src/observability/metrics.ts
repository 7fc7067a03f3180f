import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Outcome, Usage, WorkerName } from '../protocol/output.ts';

/**
 * How a task left this instance: its published outcome, or `crashed` (the
 * task actor errored) or `handed_off` (still running at shutdown, left to
 * another instance).
 */
export type TaskOutcome = Outcome | 'crashed' | 'handed_off';

export type WorkerStatus = 'succeeded' | 'failed';

export interface QueueDepth {
  pending: number;
  active: number;
}

export interface MetricsOptions {
  /**
   * Read on every scrape for `orchestrator_queue_depth` (e.g. LLEN of the
   * pending and active lists). Without it the gauge has no series.
   */
  queueDepth?: () => Promise<QueueDepth>;
  /** Told when `queueDepth` fails; the scrape still succeeds, without queue series. Default: ignored. */
  onCollectError?: (error: unknown) => void;
  /** Process metrics (CPU, memory, event loop lag, GC). Default: true. */
  defaultMetrics?: boolean;
}

export interface Metrics {
  /** Private registry: two instances in one process (tests) never collide. */
  readonly registry: Registry;
  taskStarted(): void;
  /** `durationMs` absent (a crash, a handoff): counted, not timed. */
  taskFinished(outcome: TaskOutcome, durationMs?: number): void;
  /** A worker run's end, after all its attempts. */
  workerFinished(worker: WorkerName, status: WorkerStatus, durationMs: number): void;
  workerRetried(worker: WorkerName): void;
  tokens(worker: WorkerName, usage: Usage): void;
  deadLettered(): void;
  /** Dollars of one model call, by worker (or `planner`) and model id; null: the model has no price (counted as an unpriced call). */
  cost(worker: WorkerName | 'planner', model: string, usd: number | null): void;
  /** A worker's model call started (+1) or stopped (-1) waiting for the domain's limits or breaker. */
  waitingForModel(reason: string, delta: 1 | -1): void;
  /** The shared circuit breaker's state, as this instance last saw it. */
  breaker(state: 'closed' | 'open' | 'half_open'): void;
}

// Tasks run several LLM workers: seconds to tens of minutes.
const TASK_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600];
const WORKER_BUCKETS = [0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1200];

const seconds = (ms: number): number => Math.max(0, ms) / 1000;

/**
 * The Prometheus metrics of one orchestrator, in a registry of its own.
 *
 * @example
 * const metrics = createMetrics({ queueDepth: async () => ({ pending: await redis.llen(keys.pending), active: await redis.llen(keys.active) }) });
 * metrics.taskStarted();
 * metrics.taskFinished('completed', 12_400);
 * await metrics.registry.metrics(); // Prometheus text
 */
export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  const registers = [registry];
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });

  const tasks = new Counter({
    name: 'orchestrator_tasks_total',
    help: 'Tasks that left this instance, by outcome (completed, completed_with_warnings, partial, failed, crashed, handed_off).',
    labelNames: ['outcome'] as const,
    registers,
  });
  const taskDuration = new Histogram({
    name: 'orchestrator_task_duration_seconds',
    help: 'Time from claim to the end of a task, by outcome.',
    labelNames: ['outcome'] as const,
    buckets: TASK_BUCKETS,
    registers,
  });
  const workerDuration = new Histogram({
    name: 'orchestrator_worker_duration_seconds',
    help: 'Time of one worker run, all its attempts included, by worker and final status.',
    labelNames: ['worker', 'status'] as const,
    buckets: WORKER_BUCKETS,
    registers,
  });
  const inFlight = new Gauge({
    name: 'orchestrator_tasks_in_flight',
    help: 'Task actors running in this instance.',
    registers,
  });
  const { queueDepth, onCollectError } = options;
  new Gauge({
    name: 'orchestrator_queue_depth',
    help: 'Messages in the shared queue lists (pending: waiting for a claim; active: claimed, not finished), read at scrape time.',
    labelNames: ['queue'] as const,
    registers,
    async collect() {
      if (!queueDepth) return;
      try {
        const depth = await queueDepth();
        this.set({ queue: 'pending' }, depth.pending);
        this.set({ queue: 'active' }, depth.active);
      } catch (error) {
        // A stale depth would look healthy: drop the series, keep the rest of the scrape.
        this.reset();
        onCollectError?.(error);
      }
    },
  });
  const tokens = new Counter({
    name: 'orchestrator_tokens_total',
    help: 'Model tokens used by workers, by worker and kind (input, output, cache_read, cache_write).',
    labelNames: ['worker', 'kind'] as const,
    registers,
  });
  const retries = new Counter({
    name: 'orchestrator_worker_retries_total',
    help: 'Worker attempts that failed with a retryable error and were run again.',
    labelNames: ['worker'] as const,
    registers,
  });
  const deadLetters = new Counter({
    name: 'orchestrator_dead_letters_total',
    help: 'Messages this instance put in the dead letters (unparseable, or crashed their holders too often).',
    registers,
  });

  const cost = new Counter({
    name: 'orchestrator_cost_usd_total',
    help: 'Dollars spent on model calls at the price table, by worker (or planner) and model id.',
    labelNames: ['worker', 'model'] as const,
    registers,
  });
  const unpriced = new Counter({
    name: 'orchestrator_unpriced_model_calls_total',
    help: 'Model calls of a model without a price: their tokens are counted, their dollars are unknown (not in orchestrator_cost_usd_total).',
    labelNames: ['worker', 'model'] as const,
    registers,
  });
  const waiting = new Gauge({
    name: 'orchestrator_workers_waiting_for_model',
    help: 'Workers whose model call waits, by reason (model_slot, tokens_per_minute, breaker_open, retry_after, rate_limit).',
    labelNames: ['reason'] as const,
    registers,
  });
  const breaker = new Gauge({
    name: 'orchestrator_model_breaker_open',
    help: 'The shared circuit breaker over the model API as this instance last saw it: 0 closed, 1 open, 0.5 half-open.',
    registers,
  });
  breaker.set(0);

  return {
    registry,
    cost: (worker, model, usd) => (usd === null ? unpriced.inc({ worker, model }) : cost.inc({ worker, model }, usd)),
    waitingForModel: (reason, delta) => waiting.inc({ reason }, delta),
    breaker: (state) => breaker.set(state === 'closed' ? 0 : state === 'open' ? 1 : 0.5),
    taskStarted: () => inFlight.inc(),
    taskFinished(outcome, durationMs) {
      inFlight.dec();
      tasks.inc({ outcome });
      if (durationMs !== undefined) taskDuration.observe({ outcome }, seconds(durationMs));
    },
    workerFinished(worker, status, durationMs) {
      workerDuration.observe({ worker, status }, seconds(durationMs));
    },
    workerRetried: (worker) => retries.inc({ worker }),
    tokens(worker, usage) {
      tokens.inc({ worker, kind: 'input' }, usage.input_tokens);
      tokens.inc({ worker, kind: 'output' }, usage.output_tokens);
      tokens.inc({ worker, kind: 'cache_read' }, usage.cache_read_input_tokens);
      tokens.inc({ worker, kind: 'cache_write' }, usage.cache_creation_input_tokens);
    },
    deadLettered: () => deadLetters.inc(),
  };
}
