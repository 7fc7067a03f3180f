import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { OrchestratorError, UsageError } from '../errors.ts';
import { runCancel } from './cancel.ts';
import { runConsole } from './console.ts';
import { runDemo } from './demo.ts';
import { runDiagram } from './diagram.ts';
import { runSend } from './send.ts';
import { runStart } from './start.ts';
import { addFlags, integer, schemaDefault } from './startFlags.ts';
import { runStatus } from './status.ts';
import { runWatch } from './watch.ts';

const NAME = 'backend-orchestrator';
const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const collect = (value: string, previous: string[]): string[] => [...previous, value];

export function buildCli(): Command {
  // Commander throws its usage errors (exitOverride) and prints none of them
  // (outputError): main prints each as one line with a pointer to --help.
  // Subcommands inherit both, so they are set before any is added.
  const program = new Command(NAME)
    .description('Backend domain orchestrator: takes tasks from Redis, runs api/db/auth workers, publishes results.')
    .version(VERSION, '-V, --version', 'print the version')
    .exitOverride()
    .configureOutput({ outputError: () => undefined });
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
    .description('a live view of the tasks in flight across every instance of the domain; with a task id (or an unambiguous prefix), of that task until it finishes')
    .argument('[task-id]', 'one task to follow')
    .option('--once', 'print one frame and exit')
    .option('--interval <ms>', 'refresh period', integer('--interval'), 500)
    .action(async (taskId: string | undefined, opts, cmd: Command) => runWatch(taskId, { ...cmd.optsWithGlobals(), ...opts }));

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
    .description('start a private Redis (or, with --redis, a domain of its own there) and a listener, send the seed example tasks, show progress and results')
    .option('--workspace <dir>', 'root folder of the task workspaces (default: a temporary folder, removed at the end)')
    .option('--keep', 'keep the temporary workspace folder')
    .action(async (opts, cmd: Command) => runDemo({ ...cmd.optsWithGlobals(), ...opts }));

  return program;
}

/** Prints a usage error as one line that points to the help of the command it was made in. */
function usageError(problem: string, command: Command): number {
  const path = command.parent ? `${NAME} ${command.name()}` : NAME;
  process.stderr.write(`${NAME}: ${problem} (see ${path} --help)\n`);
  return 2;
}

/** Runs the CLI; resolves to the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildCli();
  // The command whose flags are being read, for the --help pointer: the program until a subcommand is dispatched.
  let command = program;
  program.hook('preSubcommand', (_program, sub) => {
    command = sub;
  });
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here with 0; no command at all printed the help: a usage error.
      if (error.exitCode === 0) return 0;
      if (error.code === 'commander.help') return 2;
      // Commander puts its "(Did you mean start?)" on a line of its own.
      return usageError(error.message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' '), command);
    }
    if (error instanceof UsageError) return usageError(error.message, command);
    // Errors of input and set-up: the message says how to fix it; a stack would only hide that.
    if (error instanceof OrchestratorError && error.cliExitCode !== undefined) {
      process.stderr.write(`${NAME}: ${error.message}\n`);
      return error.cliExitCode;
    }
    process.stderr.write(`${NAME}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 1;
  }
}
