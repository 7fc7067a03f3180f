import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Structured JSON logs; human-readable (pino-pretty) when stderr is a
 * terminal. Every task line carries `task_id`, every worker line `worker`.
 */
export function createLogger(level: string, options: { pretty?: boolean; destination?: NodeJS.WritableStream } = {}): Logger {
  const pretty = options.pretty ?? Boolean(process.stderr.isTTY);
  if (pretty) {
    return pino({
      level,
      transport: { target: 'pino-pretty', options: { destination: 2, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } },
    });
  }
  return pino({ level, base: { pid: process.pid } }, (options.destination as pino.DestinationStream | undefined) ?? pino.destination(2));
}
