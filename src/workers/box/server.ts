import { createInterface } from 'node:readline';
import type { Request, ServerConfig } from './protocol.ts';

// The tool server: the one long-lived process inside a task box (bundled
// once by bundle.ts, started by start.ts, its work in serverOps.ts). It
// reads one request per line on stdin and answers one line each on stdout,
// in any order (a long Bash does not hold up a Read). It says it is ready
// at once and loads its tools meanwhile; a request that comes first waits
// for them. It exits when its stdin closes: the listener went, or closed
// the box; its pid namespace takes every command with it.

const config = JSON.parse(process.argv[2] ?? '{}') as ServerConfig;

function send(message: object): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

const ops = import('./serverOps.ts').then((m) => m.createOps(config));
ops.catch((error: unknown) => {
  process.stderr.write(`the box's tool server could not start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.on('line', (line) => {
  let request: Request;
  try {
    request = JSON.parse(line) as Request;
  } catch {
    return;
  }
  ops.then((handle) => handle(request)).then(
    (result) => send({ id: request.id, ok: true, result: result ?? null }),
    (error: unknown) => send({ id: request.id, ok: false, error: error instanceof Error ? error.message : String(error) }),
  );
});
lines.on('close', () => process.exit(0));
send({ id: 0, ok: true, result: 'ready' });
