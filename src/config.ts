import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { WORKER_NAMES, type WorkerName } from './protocol/output.ts';

/** The package's own folder: the default agents/ live there, whatever the cwd. */
export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/**
 * Every option of the listener, with its default. Read once at start-up
 * (`loadConfig`); a bad value stops start-up with a message naming the option.
 */
export const ConfigSchema = z.object({
  /** Redis to listen on. Env: REDIS_URL. */
  redisUrl: z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL').default('redis://127.0.0.1:6379'),
  /** The domain whose queue this instance serves (`tasks:pending:{domain}`). */
  domain: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'must be lower-case letters, digits, - or _').default('backend'),
  /** Registry id; the network names its agents `{domain}-{hostname}`. */
  agentId: z.string().min(1).optional(),
  /** Tasks in flight at once. */
  concurrency: int(1, 1024).default(4),
  /** Root folder of the task workspaces; each task works in `{workspace}/{task_id}`. */
  workspace: z.string().min(1).default('workspace'),
  /** Folder of the worker agent files. */
  agents: z.string().min(1).default(resolve(PACKAGE_ROOT, 'agents')),
  /** `anthropic` (Claude) or `scripted` (offline stand-in). Default: anthropic when ANTHROPIC_API_KEY is set. */
  model: z.enum(['anthropic', 'scripted']).optional(),
  /** `llm` asks Claude for the plan and falls back to keywords; default: llm with the anthropic model. */
  planner: z.enum(['keywords', 'llm']).optional(),
  /** Seconds a claim blocks on an empty queue before it looks again (and notices a stop). */
  claimTimeoutSeconds: z.coerce.number().min(0.05).max(30).default(1),
  /** How long a final result waits for the producer's `results:{id}` record (PROTOCOL.md). */
  resultGraceMs: int(0, 60_000).default(2000),
  /** Registry heartbeat period; the key lives three periods. */
  heartbeatIntervalMs: int(100, 600_000).default(10_000),
  /** Attempts per worker (1 = no retry). */
  workerAttempts: int(1, 10).default(3),
  /** First retry delay of a worker; doubles per attempt. */
  workerBackoffMs: int(0, 600_000).default(1000),
  /** Model turns a worker may take before it is stopped. */
  maxTurns: int(1, 500).default(40),
  /** max_tokens of each model call. */
  maxTokens: int(256, 64_000).default(8192),
  /** Tokens (input, output, cache reads and writes) one worker run may use over all its turns. */
  workerTokenBudget: int(1000, 1_000_000_000).default(2_000_000),
  /** Bash tool limits. */
  bashTimeoutMs: int(100, 3_600_000).default(120_000),
  bashMaxOutputBytes: int(1024, 10_000_000).default(30_000),
  /** A task taken over from a dead holder more often than this is failed and dead-lettered. */
  maxTakeovers: int(0, 100).default(3),
  /** How often the listener looks for tasks whose holder died. */
  recoveryIntervalMs: int(100, 3_600_000).default(5000),
  /** How long an active entry without a checkpoint waits before it is adopted (a claimer died mid-claim). */
  orphanGraceMs: int(0, 3_600_000).default(30_000),
  /** On SIGTERM, how long tasks in flight may finish before they are handed off to other instances. */
  shutdownGraceMs: int(0, 3_600_000).default(30_000),
  /** Dead letters kept (oldest dropped). */
  deadLetterLimit: int(1, 10_000_000).default(10_000),
  /** Port of the HTTP server with /metrics and /healthz; off when absent (0 picks a free port). */
  metricsPort: int(0, 65_535).optional(),
  /** Address it binds; 0.0.0.0 in a container. */
  metricsHost: z.string().min(1).default('127.0.0.1'),
  /** Port of the local Stately Inspector relay (`start --inspect` without a URL). */
  inspectPort: int(1, 65_535).default(8787),
  /** Send prompts, task text and model output to the inspector too; redacted otherwise. */
  inspectFull: z.boolean().default(false),
  /**
   * OpenTelemetry traces, switched on by the standard variables: an OTLP
   * endpoint (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
   * or OTEL_TRACES_EXPORTER=otlp|console; OTEL_SDK_DISABLED=true or
   * OTEL_TRACES_EXPORTER=none keep them off. Off: no SDK is loaded.
   */
  tracing: z
    .object({
      exporter: z.enum(['none', 'otlp', 'console']).default('none'),
      /** Where OTLP/HTTP traces go (the exporter's default, http://localhost:4318/v1/traces, when absent). */
      endpoint: z.url().optional(),
      /** Env: OTEL_SERVICE_NAME. */
      serviceName: z.string().min(1).default('backend-orchestrator'),
    })
    .default({ exporter: 'none', serviceName: 'backend-orchestrator' }),
  /** Port of the web console (`console`); 0 picks a free port. */
  consolePort: int(0, 65_535).default(8788),
  /** Address the console binds; anything but loopback needs `consoleToken`. */
  consoleHost: z.string().min(1).default('127.0.0.1'),
  /** Secret every console request must carry when set. Env: ORCH_CONSOLE_TOKEN. */
  consoleToken: z.string().min(16, 'must be at least 16 characters').optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  anthropic: z
    .object({
      /** Env: ANTHROPIC_API_KEY. */
      apiKey: z.string().min(1).optional(),
      /** Env: ANTHROPIC_BASE_URL. */
      baseURL: z.url().optional(),
      /** The SDK's own retries of 408/409/429/5xx, honouring retry-after. */
      maxRetries: int(0, 20).default(4),
      requestTimeoutMs: int(1000, 3_600_000).default(600_000),
      /** Model for the LLM planner (alias or id). */
      plannerModel: z.string().min(1).default('sonnet'),
      /** Alias → id overrides, e.g. { sonnet: 'claude-sonnet-4-6' }. */
      models: z.record(z.string(), z.string()).default({}),
    })
    .default({ maxRetries: 4, requestTimeoutMs: 600_000, plannerModel: 'sonnet', models: {} }),
  scripted: z
    .object({
      /** Env: ORCH_SCRIPTED_LATENCY_MS, `300` or `db-worker=300,api-worker=200`. */
      latencyMs: z.record(z.string(), z.number().nonnegative()).default({}),
      defaultLatencyMs: z.number().nonnegative().default(0),
      /** Env: ORCH_SCRIPTED_FAIL, comma-separated workers that always fail. */
      fail: z.array(z.string()).default([]),
      /** Env: ORCH_SCRIPTED_RUN_LOG, a file that gets `start|done <task> <worker>` per worker run (the crash suite counts them). */
      runLog: z.string().min(1).optional(),
    })
    .default({ latencyMs: {}, defaultLatencyMs: 0, fail: [] }),
});

export type ConfigInput = z.input<typeof ConfigSchema>;
export type Config = z.output<typeof ConfigSchema> & {
  agentId: string;
  model: 'anthropic' | 'scripted';
  planner: 'keywords' | 'llm';
};

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses `db-worker=300,api-worker=200` or `250`. */
export function parseLatencySpec(spec: string): { defaultLatencyMs: number; latencyMs: Record<string, number> } {
  const out = { defaultLatencyMs: 0, latencyMs: {} as Record<string, number> };
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [name, value] = part.includes('=') ? part.split('=', 2) : [undefined, part];
    const ms = Number(value);
    if (!Number.isFinite(ms) || ms < 0) {
      throw new ConfigError(`ORCH_SCRIPTED_LATENCY_MS: "${part}" is not a number of milliseconds (e.g. 300 or db-worker=300,api-worker=200)`);
    }
    if (name === undefined) out.defaultLatencyMs = ms;
    else out.latencyMs[name.trim()] = ms;
  }
  return out;
}

/** The OTEL_* variables of the OpenTelemetry specification that concern traces. */
function tracingFromEnv(env: NodeJS.ProcessEnv): ConfigInput['tracing'] | undefined {
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim() || (base ? `${base.replace(/\/+$/, '')}/v1/traces` : undefined);
  const chosen = env.OTEL_TRACES_EXPORTER?.trim();
  if (chosen && !['none', 'otlp', 'console'].includes(chosen)) {
    throw new ConfigError(`OTEL_TRACES_EXPORTER: "${chosen}" is not supported here (use otlp, console or none)`);
  }
  const exporter = env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true' ? 'none' : ((chosen as 'none' | 'otlp' | 'console' | undefined) ?? (endpoint ? 'otlp' : undefined));
  if (exporter === undefined) return undefined;
  return {
    exporter,
    ...(endpoint ? { endpoint } : {}),
    ...(env.OTEL_SERVICE_NAME?.trim() ? { serviceName: env.OTEL_SERVICE_NAME.trim() } : {}),
  };
}

/**
 * The one place that reads the environment. Explicit options win over it.
 * Throws ConfigError naming the option when a value is bad.
 */
export function loadConfig(options: ConfigInput = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const fromEnv: ConfigInput = {};
  if (env.REDIS_URL) fromEnv.redisUrl = env.REDIS_URL;
  if (env.ORCH_CONSOLE_TOKEN) fromEnv.consoleToken = env.ORCH_CONSOLE_TOKEN;
  const anthropic: NonNullable<ConfigInput['anthropic']> = {};
  if (env.ANTHROPIC_API_KEY) anthropic.apiKey = env.ANTHROPIC_API_KEY;
  if (env.ANTHROPIC_BASE_URL) anthropic.baseURL = env.ANTHROPIC_BASE_URL;
  const scripted: NonNullable<ConfigInput['scripted']> = {};
  if (env.ORCH_SCRIPTED_LATENCY_MS) Object.assign(scripted, parseLatencySpec(env.ORCH_SCRIPTED_LATENCY_MS));
  if (env.ORCH_SCRIPTED_RUN_LOG) scripted.runLog = env.ORCH_SCRIPTED_RUN_LOG;
  if (env.ORCH_SCRIPTED_FAIL) {
    scripted.fail = env.ORCH_SCRIPTED_FAIL.split(',').map((s) => s.trim()).filter(Boolean);
    const unknown = scripted.fail.filter((w) => !(WORKER_NAMES as readonly string[]).includes(w) && w !== 'planner');
    if (unknown.length) throw new ConfigError(`ORCH_SCRIPTED_FAIL: unknown worker ${unknown.join(', ')} (known: ${WORKER_NAMES.join(', ')}, planner)`);
  }
  const tracing = tracingFromEnv(env);
  if (tracing) fromEnv.tracing = tracing;
  const merged: ConfigInput = {
    ...fromEnv,
    ...options,
    anthropic: { ...anthropic, ...options.anthropic },
    scripted: { ...scripted, ...options.scripted },
  };
  const result = ConfigSchema.safeParse(merged);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `--${i.path.join('.') || '(options)'}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const c = result.data;
  const model = c.model ?? (c.anthropic.apiKey ? 'anthropic' : 'scripted');
  if (model === 'anthropic' && !c.anthropic.apiKey) {
    throw new ConfigError('--model anthropic needs ANTHROPIC_API_KEY in the environment (or use --model scripted for the offline stand-in)');
  }
  return {
    ...c,
    agentId: c.agentId ?? `${c.domain}-${hostname()}`,
    model,
    planner: c.planner ?? (model === 'anthropic' ? 'llm' : 'keywords'),
    workspace: resolve(c.workspace),
  };
}

export function scriptedLatency(config: Config, worker: string): number {
  return config.scripted.latencyMs[worker] ?? config.scripted.defaultLatencyMs;
}

export type { WorkerName };
