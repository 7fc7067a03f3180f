import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { ConfigError } from '../errors.ts';
import { RedisUnreachableError } from '../redis/connection.ts';
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
import { addFlags, schemaDefault } from './startFlags.ts';
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
    .exitOverride()
    .showHelpAfterError();
  // --redis and --domain: every command reads them; their declarations are in the flag table.
  addFlags(program, true);

  const start = program.command('start').description('run the queue listener until SIGTERM or SIGINT');
  addFlags(start, false).action(async (opts, cmd: Command) => runStart({ ...cmd.optsWithGlobals(), ...opts }));

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
    .option('--port <port>', `port to serve on (default ${String(schemaDefault('consolePort'))})`, integer('--port'))
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
    // Its own code: a script can tell "Redis is away" from a bad flag (2) or a failed task (1).
    if (error instanceof RedisUnreachableError) {
      process.stderr.write(`backend-orchestrator: ${error.message}\n`);
      return 4;
    }
    // Errors of input and set-up: the message says how to fix it; a stack would only hide that.
    if (error instanceof ConfigError || error instanceof AgentFileError || error instanceof RedisServerMissingError || error instanceof SandboxUnavailableError || error instanceof AgentIdInUseError) {
      process.stderr.write(`backend-orchestrator: ${error.message}\n`);
      return 2;
    }
    process.stderr.write(`backend-orchestrator: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 1;
  }
}
