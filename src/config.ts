import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError, UsageError } from './errors.ts';
import { isRemoteUrl } from './git/remote.ts';
import { ModelPriceSchema } from './limits/prices.ts';
import { EFFORT_LEVELS } from './models/catalog.ts';
import {
  DEFAULT_BREAKER_COOLDOWN_MS,
  DEFAULT_CONSOLE_PORT,
  DEFAULT_DEAD_LETTER_LIMIT,
  DEFAULT_DOMAIN,
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  DEFAULT_INSPECT_PORT,
  DEFAULT_PROMPT_RETENTION_SECONDS,
  DEFAULT_RESULT_GRACE_MS,
  DEFAULT_SEARCH_TIMEOUT_MS,
  DEFAULT_SNAPSHOT_EXCLUDE,
} from './optionDefaults.ts';
import { WORKER_NAMES, type WorkerName } from './protocol/output.ts';
import { DEFAULT_PROGRESS_FLUSH_MS } from './redis/progress.ts';
import { parseAllowEntry } from './workers/sandbox/egressProxy.ts';
import { DEFAULT_WALK_MAX_ENTRIES, DEFAULT_WALK_TIMEOUT_MS } from './workers/threads/walkLimits.ts';

/** The package's own folder: the default agents/ live there, whatever the cwd. */
export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** A whole number in [min, max]; every way to miss it gets the one message that says what is wanted. */
const int = (min: number, max: number) => {
  const error = `must be a whole number from ${min} to ${max}`;
  return z.coerce.number({ error }).int({ error }).min(min, { error }).max(max, { error });
};
/** A number in [min, max], fractions allowed. */
const between = (min: number, max: number) => {
  const error = `must be a number from ${min} to ${max}`;
  return z.coerce.number({ error }).min(min, { error }).max(max, { error });
};

/** `400000` (input and output alike) or `400000:80000` (input:output), or the object itself. */
const TokensPerMinuteSchema = z.preprocess(
  (value) => {
    if (typeof value === 'number') return { input: value, output: value };
    if (typeof value !== 'string') return value;
    const [input, output = input] = value.split(':');
    return { input, output };
  },
  z.object({ input: int(1, 1_000_000_000), output: int(1, 1_000_000_000) }, { error: 'must be <n> or <input>:<output> tokens per minute' }),
);

/**
 * Every option of the listener, with its default. Read once at start-up
 * (`loadConfig`); a bad value stops start-up with a message naming the option.
 */
export const ConfigSchema = z.object({
  /** Redis to listen on. Env: REDIS_URL. */
  redisUrl: z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL').default('redis://127.0.0.1:6379'),
  /** The domain whose queue this instance serves (`tasks:pending:{domain}`). */
  domain: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'must be lower-case letters, digits, - or _').default(DEFAULT_DOMAIN),
  /** Registry id; the network names its agents `{domain}-{hostname}`. */
  agentId: z.string().min(1).optional(),
  /** Tasks in flight at once. */
  concurrency: int(1, 1024).default(4),
  /** Root folder of the task workspaces; each task works in `{workspace}/{task_id}`. With --project, where task worktrees go (default: a folder under the system's temp folder). */
  workspace: z.string().min(1).default('workspace'),
  /**
   * The shared codebase tasks work on (the network's /workspace). Env:
   * PROJECT_DIR. Absent: each task works in its own folder under `workspace`.
   * A URL (`https://`, `ssh://`, `git://`, `file://`, `user@host:path`) or a
   * bare repository's path is a git remote: remote mode (docs/projects.md).
   */
  project: z.string().min(1).optional(),
  /** Remote mode: the branch tasks merge into (default: the remote's HEAD). */
  projectBranch: z.string().regex(/^(?!-)(?!.*\.\.)[A-Za-z0-9._\/-]+$/, 'must be a branch name').optional(),
  /** Remote mode: the name of an environment variable holding an HTTPS token for the remote (sent as an http.extraHeader through git's environment). */
  projectTokenEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be the name of an environment variable').optional(),
  /** Remote mode: `auto` merges each task into the project branch by push; `none` pushes its branch only and hands it off (its compare URL in the result). */
  merge: z.enum(['auto', 'none']).default('auto'),
  /**
   * How tasks share the project: `box` (a box per task over a copy-on-write
   * view of the project; default for a git project where the kernel allows
   * it), `worktree` (a git worktree per task; the default for a git project
   * otherwise), `none` (in the folder itself, one task at a time; default for
   * a plain folder), `task-folder` (own folder per task; default without a project).
   */
  isolation: z.enum(['box', 'worktree', 'none', 'task-folder']).optional(),
  /** Box isolation: bytes a task may write to its layer (its own changes, caches its test runs write); past it a write fails with a tool error. */
  boxDiskQuota: int(1024 ** 2, 1024 ** 4).default(2 * 1024 ** 3),
  /** Box isolation: names (basename globs, at any depth) left out of the snapshot of the project folder and its layers, besides `.git`. Replaces the default list. */
  boxSnapshotExclude: z.array(z.string().min(1).regex(/^[^/]+$/, 'must be a file name or a glob of one (no /)')).default([...DEFAULT_SNAPSHOT_EXCLUDE]),
  /** Merge `partial` results into the project's branch too (by default only completed ones are). */
  mergePartial: z.boolean().default(false),
  /** The project's own checks (`--verify`), run in order in the task's box after its workers; absent: none, the task is not verified. */
  verify: z.array(z.string().trim().min(1)).default([]),
  /** Time limit of one check run; a check that reaches it is killed and fails with `exit_code: null`. */
  verifyTimeoutMs: int(1000, 3_600_000).default(300_000),
  /** Fix rounds after failing checks: the workers the failure points at run again with it; 0 reports the failure at once. */
  fixRounds: int(0, 10).default(2),
  /** Merge a task whose checks still fail after the last fix round (by default its branch is kept, not merged). */
  mergeFailing: z.boolean().default(false),
  /** Let a task's `payload.context.verify` (a list of commands) replace the declared checks: task text is untrusted, so off by default. */
  allowTaskChecks: z.boolean().default(false),
  /** Days a merged task branch is kept before it is deleted; unmerged ones are always kept. */
  keepBranchesDays: between(0, 36_500).default(7),
  /** Author and committer of the orchestrator's commits and merges. */
  gitAuthorName: z.string().trim().min(1).default('backend-orchestrator'),
  gitAuthorEmail: z.string().trim().min(3).regex(/^[^<>\s]+$/, 'must be an e-mail address without spaces or <>').default('backend-orchestrator@localhost'),
  /** TTL of the Redis locks around merges and around a task in `--isolation none` (renewed every third while held). */
  lockTtlMs: int(1000, 3_600_000).default(30_000),
  /** Folder of the worker agent files. */
  agents: z.string().min(1).default(resolve(PACKAGE_ROOT, 'agents')),
  /** `anthropic` (Claude) or `scripted` (offline stand-in). Default: anthropic when ANTHROPIC_API_KEY is set. */
  model: z.enum(['anthropic', 'scripted']).optional(),
  /** `llm` asks Claude for the plan and falls back to keywords; default: llm with the anthropic model. */
  planner: z.enum(['keywords', 'llm']).optional(),
  /** Seconds a claim blocks on an empty queue before it looks again (and notices a stop). */
  claimTimeoutSeconds: between(0.05, 30).default(1),
  /** How long a final result waits for the producer's `results:{id}` record (PROTOCOL.md). */
  resultGraceMs: int(0, 60_000).default(DEFAULT_RESULT_GRACE_MS),
  /** Registry heartbeat period; the key lives three periods. */
  heartbeatIntervalMs: int(100, 600_000).default(DEFAULT_HEARTBEAT_INTERVAL_MS),
  /** Attempts per worker (1 = no retry). */
  workerAttempts: int(1, 10).default(3),
  /** First retry delay of a worker; doubles per attempt. */
  workerBackoffMs: int(0, 600_000).default(1000),
  /** Model turns a worker may take before it is stopped. */
  maxTurns: int(1, 500).default(40),
  /** max_tokens of each model call; an answer cut at it is asked again with twice as many, up to the model's own limit. */
  maxTokens: int(256, 128_000).default(8192),
  /** Tokens (input, output, cache reads and writes) one worker run may use over all its turns. */
  workerTokenBudget: int(1000, 1_000_000_000).default(2_000_000),
  /** Bash tool limits. */
  bashTimeoutMs: int(100, 3_600_000).default(120_000),
  bashMaxOutputBytes: int(1024, 10_000_000).default(30_000),
  /** Processes (and threads) one Bash command may run at once: pids.max of a cgroup per command where one can be made, and RLIMIT_NPROC (which the kernel ignores for root). */
  bashMaxProcesses: int(8, 100_000).default(512),
  /** Largest file one Bash command may write (RLIMIT_FSIZE). */
  bashMaxFileBytes: int(1024, 1024 ** 4).default(1024 ** 3),
  /** Address space of each process of a Bash command (RLIMIT_AS). */
  bashMaxMemoryBytes: int(64 * 1024 ** 2, 1024 ** 4).default(8 * 1024 ** 3),
  /** Size of the private /tmp (a tmpfs) of each Bash command; writing past it fails with ENOSPC. Unbounded, it could take half the machine's memory. */
  bashTmpBytes: int(1024 ** 2, 1024 ** 4).default(256 * 1024 ** 2),
  /**
   * How bashMaxProcesses is held (src/workers/sandbox/processLimit.ts):
   * `auto` takes a pids cgroup per command where one can be made, else for
   * root the `uid` mechanism when it works, else RLIMIT_NPROC (`rlimit`,
   * enough for an ordinary user; for root it is not enforced and start-up
   * warns). Forcing one that cannot work here stops start-up with the reason.
   */
  boxProcessLimit: z.enum(['auto', 'cgroup', 'uid', 'rlimit']).default('auto'),
  /**
   * `uid` mechanism (a root listener without a writable pids cgroup): the
   * unprivileged uid, and gid, every process of a Bash box runs as, so that
   * the kernel applies RLIMIT_NPROC. Should belong to no one else on the
   * machine (no /etc/passwd entry needed); the task folders are opened to it
   * with POSIX ACLs (setfacl).
   */
  boxUid: int(1, 2 ** 31 - 2).default(64923),
  boxGid: int(1, 2 ** 31 - 2).optional(),
  /** CPU seconds of each process of a Bash command (RLIMIT_CPU); the wall-clock limit is bashTimeoutMs. */
  bashCpuSeconds: int(1, 86_400).default(600),
  /** How long one Glob or Grep may search (off the main thread) before it is stopped. */
  searchTimeoutMs: int(100, 600_000).default(DEFAULT_SEARCH_TIMEOUT_MS),
  /**
   * How long one walk of a worker's folder (before and after each Bash
   * command, to see what it changed; the planner's survey) may take. The
   * walks run off the main thread; one cut short records what it saw, and
   * the Bash result says the rest went unrecorded.
   */
  walkTimeoutMs: int(100, 600_000).default(DEFAULT_WALK_TIMEOUT_MS),
  /** Files and folders one such walk looks at before it stops (node_modules and .git are not walked). */
  walkMaxEntries: int(100, 100_000_000).default(DEFAULT_WALK_MAX_ENTRIES),
  /**
   * Run Bash without the OS sandbox. Only for a listener that itself runs in
   * a throwaway container: a warning is logged at start and on every task.
   */
  unsafeNoSandbox: z.boolean().default(false),
  /**
   * Hosts Bash may reach (`registry.npmjs.org`, `*.github.com`) through the
   * listener's egress proxy; none by default (no network at all). Without a
   * port an entry allows HTTPS (CONNECT) to 443 and plain http:// to 80;
   * `host:port` (`example.com:8443`) allows that port only. A name that
   * resolves to an internal address (loopback, private, link-local and the
   * metadata service, CGNAT, and their IPv6 and IPv4-mapped forms) is
   * refused unless the entry is that address itself or `localhost`.
   */
  allowDomains: z
    .array(
      z
        .string()
        .toLowerCase()
        .superRefine((value, ctx) => {
          try {
            parseAllowEntry(value);
          } catch (error) {
            ctx.addIssue({ code: 'custom', message: (error as Error).message });
          }
        }),
    )
    .default([]),
  /** A task taken over from a dead holder more often than this is failed and dead-lettered. */
  maxTakeovers: int(0, 100).default(3),
  /** How often the listener looks for tasks whose holder died. */
  recoveryIntervalMs: int(100, 3_600_000).default(5000),
  /** How long an active entry without a checkpoint waits before it is adopted (a claimer died mid-claim). */
  orphanGraceMs: int(0, 3_600_000).default(30_000),
  /** On SIGTERM, how long tasks in flight may finish before they are handed off to other instances. */
  shutdownGraceMs: int(0, 3_600_000).default(30_000),
  /**
   * How much longer than the grace (and a claim under way, at most the claim
   * timeout) a stop may take to hand off, deregister and close Redis. Past it
   * the process leaves its checkpoints as they are and exits non-zero, even
   * when Redis is down and every command hangs.
   */
  shutdownMarginMs: int(0, 600_000).default(5000),
  /** Model requests in flight at once over the whole domain (every instance on this Redis); none when absent. */
  maxModelCalls: int(1, 100_000).optional(),
  /** Tokens per minute over the whole domain, input and output counted separately (`n` or `input:output`); none when absent. */
  tokensPerMinute: TokensPerMinuteSchema.optional(),
  /** A model-call slot not renewed for this long is taken back (its instance died); renewed every third of it. */
  modelLeaseTtlMs: int(1000, 3_600_000).default(60_000),
  /** 429/529/overloaded answers in a row, across the domain, that open the circuit breaker. */
  breakerThreshold: int(1, 1000).default(3),
  /** How long the breaker stays open when the API sent no retry-after; doubles with each failed probe. */
  breakerCooldownMs: int(10, 3_600_000).default(DEFAULT_BREAKER_COOLDOWN_MS),
  /** The longest the breaker stays open between probes. */
  breakerMaxCooldownMs: int(10, 3_600_000).default(120_000),
  /** Dollars a task may spend on model calls, unless its `metadata.budget_usd` says otherwise; no limit when absent. */
  taskBudgetUsd: z.coerce.number({ error: 'must be a number of dollars' }).positive({ error: 'must be more than 0 dollars' }).max(1_000_000, { error: 'must be at most 1000000 dollars' }).optional(),
  /** Price overrides or additions, model id → { input, output, cache_write, cache_read } in dollars per million tokens. */
  prices: z.record(z.string().min(1), ModelPriceSchema).default({}),
  /** Dead letters kept (oldest dropped). */
  deadLetterLimit: int(1, 10_000_000).default(DEFAULT_DEAD_LETTER_LIMIT),
  /**
   * The longest a progress line or checkpoint field that nothing waits for (a worker started, a model
   * wait, the spend so far) is held before it is written; it goes sooner with the task's next saved step.
   */
  progressFlushMs: int(0, 60_000).default(DEFAULT_PROGRESS_FLUSH_MS),
  /** Seconds each worker's prompt is kept in Redis for the console (`orch:{domain}:prompts:{task_id}`), from the publication. */
  promptRetentionSeconds: int(60, 31_536_000).default(DEFAULT_PROMPT_RETENTION_SECONDS),
  /** Port of the HTTP server with /metrics and /healthz; off when absent (0 picks a free port). */
  metricsPort: int(0, 65_535).optional(),
  /** Address it binds; 0.0.0.0 in a container. */
  metricsHost: z.string().min(1).default('127.0.0.1'),
  /** Port of the local Stately Inspector relay (`start --inspect` without a URL). */
  inspectPort: int(1, 65_535).default(DEFAULT_INSPECT_PORT),
  /**
   * Address the local inspector relay binds. Loopback by default: only this
   * machine can connect. Another address (or 0.0.0.0) lets anyone who can
   * reach it read the actors' events (a warning is logged). Browser pages are
   * let in only from the relay's own page origins, http://localhost:<port>,
   * http://127.0.0.1:<port>, http://[::1]:<port> and http://<this host>:<port>.
   */
  inspectHost: z.string().trim().min(1).regex(/^[^\s/:]+$|^\[?[0-9a-f:.]+\]?$/i, 'must be an address or host name, e.g. 127.0.0.1, 10.0.0.5 or ::1').default('127.0.0.1'),
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
  consolePort: int(0, 65_535).default(DEFAULT_CONSOLE_PORT),
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
      /**
       * Retries of 408/409/5xx and connection failures, honouring retry-after. Done by the model gate (the
       * SDK's own retries are off), so each retry takes a slot; 429/529 are waited out, not counted here.
       */
      maxRetries: int(0, 20).default(4),
      requestTimeoutMs: int(1000, 3_600_000).default(600_000),
      /** Model for the LLM planner (alias or id). */
      plannerModel: z.string().min(1).default('sonnet'),
      /** Alias → id overrides, e.g. { sonnet: 'claude-sonnet-4-6' }; flag `--model-id sonnet=claude-sonnet-4-6`. */
      models: z.record(z.string().min(1), z.string().regex(/^\S+$/, 'must be a model id or an alias, without spaces')).default({}),
      /** `output_config.effort` of every request to a model that takes it (low, medium, high, xhigh, max); the model's default when absent. Flag `--effort`. */
      effort: z.enum(EFFORT_LEVELS).optional(),
      /** A worker the model refused to help starts its conversation anew on this model (alias or id), once; none when absent. */
      fallbackModel: z.string().min(1).optional(),
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
      /** Env: ORCH_SCRIPTED_BUG=1, the stand-in writes a bug the sample app's test catches, and mends it in a fix round (the demo of `--verify`). */
      bug: z.boolean().default(false),
    })
    .default({ latencyMs: {}, defaultLatencyMs: 0, fail: [], bug: false }),
});

export type ConfigInput = z.input<typeof ConfigSchema>;
export type Config = z.output<typeof ConfigSchema> & {
  agentId: string;
  /** Remote mode: the token `projectTokenEnv` names, read from the environment here (never a flag: it would be on argv). */
  projectToken?: string;
  model: 'anthropic' | 'scripted';
  planner: 'keywords' | 'llm';
};

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

/** Options read from the environment: a bad value there is named by its variable. */
const ENV_OF_OPTION: Readonly<Record<string, string>> = {
  redisUrl: 'REDIS_URL',
  project: 'PROJECT_DIR',
  consoleToken: 'ORCH_CONSOLE_TOKEN',
  'anthropic.apiKey': 'ANTHROPIC_API_KEY',
  'anthropic.baseURL': 'ANTHROPIC_BASE_URL',
  'tracing.endpoint': 'OTEL_EXPORTER_OTLP_ENDPOINT', // OTEL_EXPORTER_OTLP_TRACES_ENDPOINT when that is set: see nameOf
  'tracing.serviceName': 'OTEL_SERVICE_NAME',
  'scripted.runLog': 'ORCH_SCRIPTED_RUN_LOG',
};

const valueAt = (root: unknown, path: readonly PropertyKey[]): unknown =>
  path.reduce<unknown>((at, key) => (at !== null && typeof at === 'object' ? (at as Record<PropertyKey, unknown>)[key] : undefined), root);

/**
 * Names a bad value the way it was given: the flag a person typed (`--redis`,
 * from `flags`, option → flag), the environment variable (`REDIS_URL`), or
 * the option's path in the config object (`allowDomains.1`).
 */
function nameOf(
  path: readonly PropertyKey[],
  options: ConfigInput,
  fromEnv: ConfigInput,
  flags: Readonly<Record<string, string>>,
  vars: NodeJS.ProcessEnv,
  file: ConfigFile | undefined,
): string {
  const dotted = path.map(String).join('.');
  const top = String(path[0] ?? '');
  // Given in `options` when the value there, or a list or string it was made from (`--tokens-per-minute 1:2`), is.
  const given = path.some((_, i) => {
    const at = valueAt(options, path.slice(0, i + 1));
    return at !== undefined && (i === path.length - 1 || typeof at !== 'object' || Array.isArray(at));
  });
  if (given) {
    // A flag that sets one field of a nested option (`--model-id` → anthropic.models) is found by the two first keys.
    const flag = flags[path.slice(0, 2).map(String).join('.')] ?? flags[top];
    if (flag === undefined) return dotted || '(options)';
    return flag;
  }
  for (let n = path.length; n > 0; n--) {
    const option = path.slice(0, n).map(String).join('.');
    const env = option === 'tracing.endpoint' && vars.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim() ? 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' : ENV_OF_OPTION[option];
    if (env !== undefined && valueAt(fromEnv, path.slice(0, n)) !== undefined) return env;
  }
  if (file !== undefined && path.some((_, i) => valueAt(file.values, path.slice(0, i + 1)) !== undefined)) return `${file.path}: ${dotted}`;
  return dotted || '(options)';
}

/** `a, b or c`. */
const orList = (values: string[]): string => (values.length < 2 ? values.join('') : `${values.slice(0, -1).join(', ')} or ${values.at(-1)!}`);

/**
 * The one place that reads the environment. Precedence, lowest first: the
 * schema's defaults, the config file (`--config`), the environment, the
 * explicit options (the flags). Throws ConfigError naming the option when a
 * value is bad: by the flag that set it when `flags` (option → flag, e.g.
 * `{ redisUrl: '--redis' }`) has one, by its environment variable when it
 * came from there, by the file and its path (`orch.yaml: anthropic.models.sonnet`)
 * when it came from the file, else by its path.
 */
export function loadConfig(
  options: ConfigInput = {},
  env: NodeJS.ProcessEnv = process.env,
  flags: Readonly<Record<string, string>> = {},
  file?: ConfigFile,
): Config {
  const fromEnv: ConfigInput = {};
  if (env.REDIS_URL) fromEnv.redisUrl = env.REDIS_URL;
  if (env.PROJECT_DIR) fromEnv.project = env.PROJECT_DIR;
  if (env.ORCH_CONSOLE_TOKEN) fromEnv.consoleToken = env.ORCH_CONSOLE_TOKEN;
  const anthropic: NonNullable<ConfigInput['anthropic']> = {};
  if (env.ANTHROPIC_API_KEY) anthropic.apiKey = env.ANTHROPIC_API_KEY;
  if (env.ANTHROPIC_BASE_URL) anthropic.baseURL = env.ANTHROPIC_BASE_URL;
  const scripted: NonNullable<ConfigInput['scripted']> = {};
  if (env.ORCH_SCRIPTED_LATENCY_MS) Object.assign(scripted, parseLatencySpec(env.ORCH_SCRIPTED_LATENCY_MS));
  if (env.ORCH_SCRIPTED_RUN_LOG) scripted.runLog = env.ORCH_SCRIPTED_RUN_LOG;
  if (env.ORCH_SCRIPTED_BUG) {
    if (!/^[01]$/.test(env.ORCH_SCRIPTED_BUG)) throw new ConfigError(`ORCH_SCRIPTED_BUG: "${env.ORCH_SCRIPTED_BUG}" is neither 1 (write the bug) nor 0`);
    scripted.bug = env.ORCH_SCRIPTED_BUG === '1';
  }
  if (env.ORCH_SCRIPTED_FAIL) {
    scripted.fail = env.ORCH_SCRIPTED_FAIL.split(',').map((s) => s.trim()).filter(Boolean);
    const unknown = scripted.fail.filter((w) => !(WORKER_NAMES as readonly string[]).includes(w) && w !== 'planner');
    if (unknown.length) throw new ConfigError(`ORCH_SCRIPTED_FAIL: unknown worker ${unknown.join(', ')} (known: ${WORKER_NAMES.join(', ')}, planner)`);
  }
  const tracing = tracingFromEnv(env);
  if (tracing) fromEnv.tracing = tracing;
  const fromFile: ConfigInput = file?.values ?? {};
  const merged: ConfigInput = {
    ...fromFile,
    ...fromEnv,
    ...options,
    anthropic: {
      ...fromFile.anthropic,
      ...anthropic,
      ...options.anthropic,
      // Aliases add up: `--model-id` maps one alias, the file's other ones stay.
      models: { ...fromFile.anthropic?.models, ...options.anthropic?.models },
    },
    scripted: { ...fromFile.scripted, ...scripted, ...options.scripted },
    prices: { ...fromFile.prices, ...options.prices },
  };
  const result = ConfigSchema.safeParse(merged);
  if (!result.success) {
    // One line, each bad value by what set it, the problem and (for a number) what was given: `--concurrency: must be a whole number from 1 to 1024, got 0`.
    const named = result.error.issues.map((i) => {
      const given = valueAt(merged, i.path);
      const name = nameOf(i.path, options, fromEnv, flags, env, file);
      // zod's "Invalid option: expected one of "a"|"b"" said the way the rest are.
      if (i.code === 'invalid_value' && i.values.length > 1) return { name, line: `must be ${orList(i.values.map(String))}, got ${JSON.stringify(given)}` };
      return { name, line: `${i.message}${typeof given === 'number' ? `, got ${given}` : ''}` };
    });
    const message = [...new Set(named.map(({ name, line }) => `${name}: ${line}`))].join('; ');
    // Only flags: a mistake in the command line, answered with a pointer to --help (UsageError).
    throw named.every(({ name }) => Object.values(flags).includes(name)) ? new UsageError(message) : new ConfigError(message);
  }
  const c = result.data;
  // A remote's URL is kept as given; a path (a folder, or a bare repository's) is made absolute.
  const project = c.project === undefined ? undefined : isRemoteUrl(c.project) ? c.project : resolve(c.project);
  let projectToken: string | undefined;
  if (c.projectTokenEnv !== undefined) {
    projectToken = env[c.projectTokenEnv]?.trim() || undefined;
    if (projectToken === undefined) throw new ConfigError(`--project-token-env ${c.projectTokenEnv}: that variable is not set (or empty) in the environment: export it, or leave the flag out to use git's own credentials`);
  }
  // With a project, the default worktree folder must not be inside it (./workspace is, when started from the project).
  const workspace =
    project !== undefined && merged.workspace === undefined
      ? join(tmpdir(), 'backend-orchestrator-worktrees', `${basename(project).replace(/[^A-Za-z0-9._-]+/g, '-')}-${createHash('sha256').update(project).digest('hex').slice(0, 8)}`)
      : resolve(c.workspace);
  const model = c.model ?? (c.anthropic.apiKey ? 'anthropic' : 'scripted');
  if (model === 'anthropic' && !c.anthropic.apiKey) {
    throw new ConfigError('--model anthropic needs ANTHROPIC_API_KEY in the environment (or use --model scripted for the offline stand-in)');
  }
  return {
    ...c,
    agentId: c.agentId ?? `${c.domain}-${hostname()}`,
    model,
    planner: c.planner ?? (model === 'anthropic' ? 'llm' : 'keywords'),
    workspace,
    ...(project !== undefined ? { project } : {}),
    ...(projectToken !== undefined ? { projectToken } : {}),
  };
}

export function scriptedLatency(config: Config, worker: string): number {
  return config.scripted.latencyMs[worker] ?? config.scripted.defaultLatencyMs;
}

export type { WorkerName };

/** Options read from a file (`--config`), and the file, which errors name. */
export interface ConfigFile {
  path: string;
  values: ConfigInput;
}

/** The schema under `.default()`/`.optional()`: what a file's key is checked against. */
function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema as z.ZodType & { unwrap?: () => z.ZodType; def: { type: string; innerType?: z.ZodType } };
  while (s.def.type === 'default' || s.def.type === 'optional' || s.def.type === 'prefault' || s.def.type === 'nullable') s = s.def.innerType as typeof s;
  return s;
}

/** Keys of the file that are no option: `anthropic.modles`, named with their path (records such as `prices` take any key). */
function unknownKeys(value: unknown, schema: z.ZodType, path: string[]): string[] {
  const inner = unwrap(schema);
  if (!(inner instanceof z.ZodObject) || value === null || typeof value !== 'object' || Array.isArray(value)) return [];
  const shape = inner.shape as Record<string, z.ZodType>;
  return Object.entries(value as Record<string, unknown>).flatMap(([key, v]) => {
    const at = [...path, key];
    const field = shape[key];
    if (field === undefined) return [`${at.join('.')}: not an option here (options: ${Object.keys(shape).sort().join(', ')})`];
    return unknownKeys(v, field, at);
  });
}

/**
 * Reads a config file, YAML or JSON (JSON is YAML), holding options as the
 * schema names them (`anthropic.models`, `prices`, `taskBudgetUsd`, ...);
 * `loadConfig` validates its values with the same schema as the flags and
 * names a bad one with the file and its path. Throws ConfigError naming the
 * file when it cannot be read or parsed, is not a mapping, or has a key that
 * is no option.
 *
 * @example
 * const config = loadConfig(flags, process.env, FLAG_OF_OPTION, readConfigFile('orch.yaml'));
 */
export function readConfigFile(file: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`--config ${file}: cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  let values: unknown;
  try {
    values = parseYaml(text, { prettyErrors: true });
  } catch (error) {
    throw new ConfigError(`${file}: not valid YAML or JSON: ${(error as Error).message.split('\n')[0]}`);
  }
  if (values === null || values === undefined) values = {};
  if (typeof values !== 'object' || Array.isArray(values)) throw new ConfigError(`${file}: must be a mapping of options (e.g. anthropic: { models: { sonnet: claude-sonnet-5-5 } })`);
  const unknown = unknownKeys(values, ConfigSchema, []);
  if (unknown.length > 0) throw new ConfigError(`invalid configuration:\n  ${unknown.map((u) => `${file}: ${u}`).join('\n  ')}`);
  return { path: file, values: values as ConfigInput };
}
