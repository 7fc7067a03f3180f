import { Command, Option } from 'commander';
import { ConfigSchema, type ConfigInput } from '../config.ts';
import { UsageError } from '../errors.ts';

type Key = keyof typeof ConfigSchema.shape;

/**
 * One flag of `start` (or a global one start reads): the one declaration from
 * which the commander option, the flag → option mapping and the flag named in
 * a bad value's error are all built. Defaults are the schema's, never written here.
 */
export interface FlagSpec {
  /** commander's spec, e.g. `--concurrency <n>`. */
  flags: string;
  /** The schema option it sets; absent for a flag that is not an option (`--inspect`, `--config`). */
  key?: Key;
  /** The field of that (object) option it sets: `--effort` sets anthropic.effort. */
  sub?: string;
  help: string;
  /** `pairs`: repeatable `name=value`, collected into a record (`--model-id sonnet=claude-sonnet-4-6`). */
  parse?: 'int' | 'number' | 'list' | 'pairs';
  /** Declared on the program, not on `start` (`--redis`, `--domain`). */
  global?: boolean;
  /** Say the schema's default in the help (false where it is a path of this machine). */
  showDefault?: boolean;
}

export const START_FLAGS: readonly FlagSpec[] = [
  { flags: '--redis <url>', key: 'redisUrl', help: 'Redis URL (env REDIS_URL)', global: true },
  { flags: '--domain <name>', key: 'domain', help: 'domain whose queue to serve', global: true },
  { flags: '--concurrency <n>', key: 'concurrency', help: 'tasks in flight at once', parse: 'int' },
  { flags: '--workspace <dir>', key: 'workspace', help: 'root folder of the task workspaces' },
  { flags: '--agents <dir>', key: 'agents', help: 'folder of the worker agent files (default: the package\'s agents/)', showDefault: false },
  { flags: '--model <kind>', key: 'model', help: 'anthropic (needs ANTHROPIC_API_KEY) or scripted, the offline stand-in; without a key start refuses unless --model scripted is given' },
  { flags: '--planner <kind>', key: 'planner', help: 'keywords or llm (default: llm with the anthropic model)' },
  { flags: '--agent-id <id>', key: 'agentId', help: 'registry id (default: {domain}-{hostname})' },
  { flags: '--config <file>', help: 'a YAML or JSON file of options as src/config.ts names them (anthropic.models, prices, ...); the environment and flags win over it' },
  { flags: '--model-id <alias=id>', key: 'anthropic', sub: 'models', help: 'the model id an alias of the agent files means, e.g. sonnet=claude-sonnet-4-6; repeatable', parse: 'pairs', showDefault: false },
  { flags: '--effort <level>', key: 'anthropic', sub: 'effort', help: "output_config.effort of every request to a model that takes it: low, medium, high, xhigh or max (default: the model's own)", showDefault: false },
  { flags: '--log-level <level>', key: 'logLevel', help: 'fatal, error, warn, info, debug, trace or silent' },
  { flags: '--inspect [target]', help: 'send every actor event to Stately Inspector: no value for the local relay, sky for the hosted one, or a ws:// endpoint' },
  { flags: '--inspect-port <port>', key: 'inspectPort', help: 'port of the local inspector relay', parse: 'int' },
  { flags: '--inspect-host <host>', key: 'inspectHost', help: 'address the local inspector relay binds (this machine only by default; anything else lets whoever reaches it read the events)' },
  { flags: '--inspect-full', key: 'inspectFull', help: 'send prompts, task text and model output to the inspector too (redacted by default)' },
  { flags: '--metrics-port <port>', key: 'metricsPort', help: 'serve /metrics (Prometheus) and /healthz on this port', parse: 'int' },
  { flags: '--metrics-host <host>', key: 'metricsHost', help: 'address of the metrics server' },
  { flags: '--shutdown-grace-ms <ms>', key: 'shutdownGraceMs', help: 'on SIGTERM, how long tasks in flight may finish before they are handed off', parse: 'int' },
  { flags: '--shutdown-margin-ms <ms>', key: 'shutdownMarginMs', help: 'after the grace, how long handing off and closing may take before the process exits non-zero anyway', parse: 'int' },
  { flags: '--heartbeat-ms <ms>', key: 'heartbeatIntervalMs', help: 'registry heartbeat period; the key lives three periods', parse: 'int' },
  { flags: '--recovery-ms <ms>', key: 'recoveryIntervalMs', help: 'how often to look for tasks whose holder died', parse: 'int' },
  { flags: '--orphan-grace-ms <ms>', key: 'orphanGraceMs', help: 'how long an active task without a checkpoint waits before adoption', parse: 'int' },
  { flags: '--lock-ttl-ms <ms>', key: 'lockTtlMs', help: "how long a dead instance's project and merge locks outlive it", parse: 'int' },
  { flags: '--max-takeovers <n>', key: 'maxTakeovers', help: 'takeovers after which a task is failed and dead-lettered', parse: 'int' },
  { flags: '--claim-timeout <seconds>', key: 'claimTimeoutSeconds', help: 'how long a claim blocks on an empty queue', parse: 'number' },
  { flags: '--result-grace-ms <ms>', key: 'resultGraceMs', help: "how long a result waits for the producer's results record", parse: 'int' },
  { flags: '--project <dir|url>', key: 'project', help: 'the shared codebase tasks work on (env PROJECT_DIR): a folder, or a git remote (a URL or a bare repository) that instances on several hosts share' },
  { flags: '--project-branch <name>', key: 'projectBranch', help: "with a remote project: the branch tasks merge into (default: the remote's HEAD)" },
  { flags: '--project-token-env <var>', key: 'projectTokenEnv', help: 'with a remote project: the environment variable holding an HTTPS token for it (default: git\'s own credentials)' },
  { flags: '--merge <mode>', key: 'merge', help: 'with a remote project: auto (merge each task by push) or none (push its branch and hand it off)' },
  { flags: '--isolation <mode>', key: 'isolation', help: 'box (default for a git project where the kernel allows it), worktree (the default for a git project otherwise), none (in the project folder, one task at a time) or task-folder' },
  { flags: '--box-disk-quota <bytes>', key: 'boxDiskQuota', help: "bytes a task's box may write to its layer", parse: 'int' },
  { flags: '--box-snapshot-exclude <glob>', key: 'boxSnapshotExclude', help: "a file name (glob) left out of the box's view of the project, at any depth; repeatable, replaces the default list (.env, .env.*, *.pem, *.key, id_rsa*, .npmrc, .netrc, .git-credentials)", parse: 'list', showDefault: false },
  { flags: '--merge-partial', key: 'mergePartial', help: 'merge partial results into the project branch too' },
  { flags: '--verify <command>', key: 'verify', help: "a check of the project (e.g. 'npm test') run in the task's box after its workers; repeatable, run in order; the task is merged only when all pass", parse: 'list', showDefault: false },
  { flags: '--verify-timeout <ms>', key: 'verifyTimeoutMs', help: 'time limit of one check run', parse: 'int' },
  { flags: '--fix-rounds <n>', key: 'fixRounds', help: 'rounds in which the workers a failing check points at get its output and fix their work (0: none)', parse: 'int' },
  { flags: '--merge-failing', key: 'mergeFailing', help: 'merge a task whose checks still fail after the last fix round' },
  { flags: '--allow-task-checks', key: 'allowTaskChecks', help: "let a task's payload.context.verify replace the declared checks (task text is untrusted)" },
  { flags: '--keep-branches <days>', key: 'keepBranchesDays', help: 'days merged task branches are kept', parse: 'number' },
  { flags: '--git-author-name <name>', key: 'gitAuthorName', help: "author and committer of the orchestrator's commits" },
  { flags: '--git-author-email <email>', key: 'gitAuthorEmail', help: 'their e-mail' },
  { flags: '--unsafe-no-sandbox', key: 'unsafeNoSandbox', help: 'run Bash without the bubblewrap sandbox (only inside a throwaway container)' },
  { flags: '--bash-tmp-bytes <bytes>', key: 'bashTmpBytes', help: "size of the Bash box's private /tmp", parse: 'int' },
  { flags: '--box-process-limit <how>', key: 'boxProcessLimit', help: "what holds Bash's process limit: auto, cgroup (a pids cgroup per command), uid (root only: the box runs as --box-uid) or rlimit (an ordinary user)" },
  { flags: '--box-uid <uid>', key: 'boxUid', help: 'uid the Bash box runs as under --box-process-limit uid, a root listener without a pids cgroup (no /etc/passwd entry needed)', parse: 'int' },
  { flags: '--box-gid <gid>', key: 'boxGid', help: 'its gid (default: the same number as --box-uid)', parse: 'int' },
  { flags: '--allow-domain <host[:port]>', key: 'allowDomains', help: 'a host Bash may reach through the egress proxy, e.g. registry.npmjs.org or *.github.com (HTTPS on 443, http:// on 80) or example.com:8443 (that port only); repeatable', parse: 'list', showDefault: false },
  { flags: '--max-model-calls <n>', key: 'maxModelCalls', help: 'model requests in flight at once over the whole domain (all instances)', parse: 'int' },
  { flags: '--tokens-per-minute <n>', key: 'tokensPerMinute', help: 'tokens per minute over the whole domain: <n>, or <input>:<output>' },
  { flags: '--task-budget-usd <usd>', key: 'taskBudgetUsd', help: 'dollars a task may spend on model calls unless its metadata.budget_usd says otherwise', parse: 'number' },
  { flags: '--breaker-threshold <n>', key: 'breakerThreshold', help: '429/529 answers in a row that open the shared circuit breaker', parse: 'int' },
  { flags: '--breaker-cooldown-ms <ms>', key: 'breakerCooldownMs', help: 'how long the breaker stays open when the API sent no retry-after', parse: 'int' },
];

/** `--inspect-port <port>` → `--inspect-port`. */
export const flagName = (spec: FlagSpec): string => spec.flags.split(/[\s,]/)[0]!;

/** The property commander gives the flag's value: `--inspect-port` → `inspectPort`. */
export const attributeName = (spec: FlagSpec): string => new Option(spec.flags).attributeName();

/** The schema's default of an option, undefined when it has none. */
export function schemaDefault(key: Key): unknown {
  const parsed = ConfigSchema.shape[key].safeParse(undefined);
  return parsed.success ? parsed.data : undefined;
}

/** Schema option (or `option.field` for a flag that sets one field) → the flag that sets it, for errors that name what a person typed. */
export const FLAG_OF_OPTION: Readonly<Record<string, string>> = Object.fromEntries(
  START_FLAGS.filter((s) => s.key).map((s) => [s.sub ? `${s.key!}.${s.sub}` : s.key!, flagName(s)]),
);

// A UsageError, not commander's InvalidArgumentError: commander would put its
// own "option '--x <n>' argument 'abc' is invalid." in front of the message.
/** Parses a whole-number flag value; `name` is the flag as typed. */
export const integer = (name: string) => (value: string): number => {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n)) throw new UsageError(`${name}: must be a whole number, got "${value}"`);
  return n;
};
const number = (name: string) => (value: string): number => {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new UsageError(`${name}: must be a number, got "${value}"`);
  return n;
};
const collect = (value: string, previous: string[] = []): string[] => [...previous, value];
/** `alias=id` into the record of the ones before; the flag as typed names a bad one. */
const pair = (name: string) => (value: string, previous: Record<string, string> = {}): Record<string, string> => {
  const at = value.indexOf('=');
  const key = value.slice(0, at).trim().toLowerCase();
  const id = value.slice(at + 1).trim();
  if (at < 0 || key === '' || id === '') throw new UsageError(`${name}: must be <alias>=<model id>, e.g. sonnet=claude-sonnet-4-6, got "${value}"`);
  return { ...previous, [key]: id };
};

/** The help text of a flag, with the schema's default where it has one. */
export function helpOf(spec: FlagSpec): string {
  if (!spec.key || spec.showDefault === false || spec.global || /\(default/.test(spec.help)) return spec.help;
  const value = schemaDefault(spec.key);
  if (value === undefined || value === false) return spec.help;
  return `${spec.help} (default ${String(value)})`;
}

function optionOf(spec: FlagSpec): Option {
  const option = new Option(spec.flags, helpOf(spec));
  const name = flagName(spec);
  if (spec.parse === 'int') option.argParser(integer(name));
  else if (spec.parse === 'number') option.argParser(number(name));
  else if (spec.parse === 'list') option.argParser(collect);
  else if (spec.parse === 'pairs') option.argParser(pair(name));
  if (spec.global && spec.key) {
    const value = schemaDefault(spec.key);
    // `--domain` has a default every command reads; `--redis` is left to the environment and the schema.
    if (spec.key === 'domain') option.default(value);
    else if (value !== undefined) option.description = `${spec.help}; default ${String(value)}`;
  }
  return option;
}

/** Adds the table's flags to a command: the global ones to the program, the rest to `start`. */
export function addFlags(command: Command, global: boolean): Command {
  for (const spec of START_FLAGS) if (Boolean(spec.global) === global) command.addOption(optionOf(spec));
  return command;
}

/** Maps the parsed flags onto config options; the schema checks every value. */
export function configFromFlags(o: Record<string, unknown>): ConfigInput {
  const c: Record<string, unknown> = {};
  for (const spec of START_FLAGS) {
    if (!spec.key) continue;
    const value = o[attributeName(spec)];
    if (value === undefined || (Array.isArray(value) && value.length === 0)) continue;
    if (spec.sub !== undefined) c[spec.key] = { ...(c[spec.key] as Record<string, unknown> | undefined), [spec.sub]: value };
    else c[spec.key] = value;
  }
  return c as ConfigInput;
}
