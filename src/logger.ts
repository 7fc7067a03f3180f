import { pino, type Logger } from 'pino';
import { createScrubber, scrubDeep, SecretList } from './secrets.ts';

export type { Logger };

export interface LoggerOptions {
  pretty?: boolean;
  destination?: NodeJS.WritableStream;
  /** Values never written as they are (the API key, the Redis password): see src/secrets.ts. */
  secrets?: readonly (string | undefined)[];
}

/**
 * Structured JSON logs; human-readable (pino-pretty) when stderr is a
 * terminal. Every task line carries `task_id` (or `claim`, the checkpoint's
 * key, for a message with no id: logFields in src/protocol/taskRef.ts),
 * every worker line `worker`.
 * Credentials are redacted wherever they appear (messages, fields, errors,
 * ioredis' `command.args`): a reconnect error with a wrong password logs
 * on every retry.
 */
export function createLogger(level: string, options: LoggerOptions = {}): Logger {
  const secrets = new SecretList(options.secrets ?? []);
  const scrub = createScrubber(secrets);
  const redaction: pino.LoggerOptions = {
    formatters: { log: (object) => scrubDeep(object, scrub) as Record<string, unknown> },
    serializers: { err: (error: unknown) => scrubDeep(error, scrub) },
    hooks: {
      logMethod(args, method) {
        method.apply(this, args.map((arg) => (typeof arg === 'string' ? scrub(arg) : arg)) as Parameters<typeof method>);
      },
    },
  };
  const pretty = options.pretty ?? Boolean(process.stderr.isTTY);
  const logger = build(level, pretty, redaction, options);
  loggerSecrets.set(logger, secrets);
  return logger;
}

/** The secret list of each logger createLogger made (its children share their parent's scrubber). */
const loggerSecrets = new WeakMap<Logger, SecretList>();

/**
 * Adds values a logger made by createLogger (and its children) never writes
 * from now on: secrets found after start-up began (the project's git
 * credentials). A logger made otherwise is left as it is.
 */
export function addLoggerSecrets(logger: Logger, secrets: readonly string[]): void {
  loggerSecrets.get(logger)?.add(secrets);
}

function build(level: string, pretty: boolean, redaction: pino.LoggerOptions, options: LoggerOptions): Logger {
  if (pretty) {
    return pino({
      level,
      ...redaction,
      transport: { target: 'pino-pretty', options: { destination: 2, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } },
    });
  }
  return pino({ level, base: { pid: process.pid }, ...redaction }, (options.destination as pino.DestinationStream | undefined) ?? pino.destination(2));
}
