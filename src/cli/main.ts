import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { ConfigError } from '../config.ts';
import { RedisServerMissingError } from '../redis/localServer.ts';
import { AgentIdInUseError } from '../redis/registry.ts';
import { AgentFileError } from '../workers/agentFileError.ts';
import { SandboxUnavailableError } from '../workers/sandbox/sandbox.ts';
import { runCancel } from './cancel.ts';
import { runConsole } from './console.ts';
import { runDemo } from './demo.ts';
import { runDiagram } from './diagram.ts';
import { runSend } from './send.ts';
import { runStart } from './start.ts';
import { runStatus } from './status.ts';
import { runWatch } from './watch.ts';

const integer = (name: string) => (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new InvalidArgumentError(`${name} must be a whole number, got "${value}"`);
  return n;
};
const collect = (value: string, previous: string[]): string[] => [...previous, value];

export function buildCli(): Command {
  const program = new Command('backend-orchestrator')
    .description('Backend domain orchestrator: takes tasks from Redis, runs api/db/auth workers, publishes results.')
    .option('--redis <url>', 'Redis URL (env REDIS_URL; default redis://127.0.0.1:6379)')
    .option('--domain <name>', 'domain whose queue to serve', 'backend')
    .exitOverride()
    .showHelpAfterError();

  program
    .command('start')
    .description('run the queue listener until SIGTERM or SIGINT')
    .option('--concurrency <n>', 'tasks in flight at once', integer('--concurrency'))
    .option('--workspace <dir>', 'root folder of the task workspaces')
    .option('--agents <dir>', 'folder of the worker agent files')
    .option('--model <kind>', 'anthropic or scripted (default: anthropic when ANTHROPIC_API_KEY is set)')
    .option('--planner <kind>', 'keywords or llm (default: llm with the anthropic model)')
    .option('--agent-id <id>', 'registry id (default: {domain}-{hostname})')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent')
    .option('--inspect [target]', 'send every actor event to Stately Inspector: no value for the local relay, sky for the hosted one, or a ws:// endpoint')
    .option('--inspect-port <port>', 'port of the local inspector relay (default 8787)', integer('--inspect-port'))
    .option('--inspect-host <host>', 'address the local inspector relay binds (default 127.0.0.1, this machine only; anything else lets whoever reaches it read the events)')
    .option('--inspect-full', 'send prompts, task text and model output to the inspector too (redacted by default)')
    .option('--metrics-port <port>', 'serve /metrics (Prometheus) and /healthz on this port', integer('--metrics-port'))
    .option('--metrics-host <host>', 'address of the metrics server (default 127.0.0.1)')
    .option('--shutdown-grace-ms <ms>', 'on SIGTERM, how long tasks in flight may finish before they are handed off', integer('--shutdown-grace-ms'))
    .option('--shutdown-margin-ms <ms>', 'after the grace, how long handing off and closing may take before the process exits non-zero anyway', integer('--shutdown-margin-ms'))
    .option('--heartbeat-ms <ms>', 'registry heartbeat period; the key lives three periods', integer('--heartbeat-ms'))
    .option('--recovery-ms <ms>', 'how often to look for tasks whose holder died', integer('--recovery-ms'))
    .option('--orphan-grace-ms <ms>', 'how long an active task without a checkpoint waits before adoption', integer('--orphan-grace-ms'))
    .option('--lock-ttl-ms <ms>', "how long a dead instance's project and merge locks outlive it", integer('--lock-ttl-ms'))
    .option('--max-takeovers <n>', 'takeovers after which a task is failed and dead-lettered', integer('--max-takeovers'))
    .option('--claim-timeout <seconds>', 'how long a claim blocks on an empty queue', Number)
    .option('--result-grace-ms <ms>', "how long a result waits for the producer's results record", integer('--result-grace-ms'))
    .option('--project <dir>', 'the shared codebase tasks work on (env PROJECT_DIR)')
    .option('--isolation <mode>', 'worktree (default for a git project), none (in the project folder, one task at a time) or task-folder')
    .option('--merge-partial', 'merge partial results into the project branch too')
    .option('--keep-branches <days>', 'days merged task branches are kept (default 7)', Number)
    .option('--git-author-name <name>', "author and committer of the orchestrator's commits (default backend-orchestrator)")
    .option('--git-author-email <email>', 'their e-mail (default backend-orchestrator@localhost)')
    .option('--unsafe-no-sandbox', 'run Bash without the bubblewrap sandbox (only inside a throwaway container)')
    .option('--bash-tmp-bytes <bytes>', "size of the Bash box's private /tmp (default 268435456, 256 MiB)", integer('--bash-tmp-bytes'))
    .option('--box-process-limit <how>', "what holds Bash's process limit: auto (default), cgroup (a pids cgroup per command), uid (root only: the box runs as --box-uid) or rlimit (an ordinary user)")
    .option('--box-uid <uid>', 'uid the Bash box runs as under --box-process-limit uid, a root listener without a pids cgroup (default 64923; no /etc/passwd entry needed)', integer('--box-uid'))
    .option('--box-gid <gid>', 'its gid (default: the same number as --box-uid)', integer('--box-gid'))
    .option('--allow-domain <host[:port]>', 'a host Bash may reach through the egress proxy, e.g. registry.npmjs.org or *.github.com (HTTPS on 443, http:// on 80) or example.com:8443 (that port only); repeatable', collect, [])
    .option('--max-model-calls <n>', 'model requests in flight at once over the whole domain (all instances)', integer('--max-model-calls'))
    .option('--tokens-per-minute <n>', 'tokens per minute over the whole domain: <n>, or <input>:<output>')
    .option('--task-budget-usd <usd>', 'dollars a task may spend on model calls unless its metadata.budget_usd says otherwise', Number)
    .option('--breaker-threshold <n>', '429/529 answers in a row that open the shared circuit breaker', integer('--breaker-threshold'))
    .option('--breaker-cooldown-ms <ms>', 'how long the breaker stays open when the API sent no retry-after', integer('--breaker-cooldown-ms'))
    .action(async (opts, cmd: Command) => runStart({ ...cmd.optsWithGlobals(), ...opts }));

  program
    .command('send')
    .description('put a task on the queue as the network does; --wait prints the result')
    .argument('<description>', 'what the task asks for')
    .option('--requirement <text>', 'a requirement (repeatable)', collect, [])
    .option('--context <json>', 'payload.context as a JSON object')
    .option('--priority <level>', 'low, normal or high', 'normal')
    .option('--timeout <seconds>', 'metadata.timeout_seconds, also how long --wait waits', integer('--timeout'), 300)
    .option('--wait', 'wait for the result, show progress, exit 0 only on completed')
    .action(async (description: string, opts, cmd: Command) => runSend(description, { ...cmd.optsWithGlobals(), ...opts }));

  program
    .command('status')
    .description('print the result record and progress log of a task')
    .argument('<task-id>')
    .action(async (taskId: string, _opts, cmd: Command) => runStatus(taskId, cmd.optsWithGlobals()));

  program
    .command('watch')
    .description('a live view of the tasks in flight across every instance of the domain')
    .option('--once', 'print one frame and exit')
    .option('--interval <ms>', 'refresh period', integer('--interval'), 500)
    .action(async (opts, cmd: Command) => runWatch({ ...cmd.optsWithGlobals(), ...opts }));

  program
    .command('diagram')
    .description('print the statecharts as Mermaid diagrams, generated from the machines themselves')
    .argument('[machine]', 'listener, task or worker (default: all)')
    .action((machine?: string) => runDiagram(machine ? { machine } : {}));

  program
    .command('cancel')
    .description('stop a task wherever it is (queued or running); it is published as failed')
    .argument('<task-id>')
    .option('--reason <text>', 'the reason published with the result', 'cancelled')
    .action(async (taskId: string, opts, cmd: Command) => runCancel(taskId, { ...cmd.optsWithGlobals(), ...opts }));

  program
    .command('console')
    .description('serve a live web console of the domain (read from Redis, like watch) with cancel and dead-letter actions')
    .option('--port <port>', 'port to serve on (default 8788)', integer('--port'))
    .option('--host <host>', 'address to bind (default 127.0.0.1; anything else needs --token)')
    .option('--token <secret>', 'secret every request must carry (env ORCH_CONSOLE_TOKEN)')
    .action(async (opts, cmd: Command) => runConsole({ ...cmd.optsWithGlobals(), ...opts }));

  program
    .command('demo')
    .description('start a private Redis and a listener, send the seed example tasks, show progress and results')
    .option('--workspace <dir>', 'root folder of the task workspaces (default: a temporary folder, removed at the end)')
    .option('--keep', 'keep the temporary workspace folder')
    .action(async (opts, cmd: Command) => runDemo({ ...cmd.optsWithGlobals(), ...opts }));

  return program;
}

/** Runs the CLI; resolves to the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildCli();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    // Errors of input and set-up: the message says how to fix it; a stack would only hide that.
    if (error instanceof ConfigError || error instanceof AgentFileError || error instanceof RedisServerMissingError || error instanceof SandboxUnavailableError || error instanceof AgentIdInUseError) {
      process.stderr.write(`backend-orchestrator: ${error.message}\n`);
      return 2;
    }
    process.stderr.write(`backend-orchestrator: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 1;
  }
}
