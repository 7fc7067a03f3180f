import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OrchestratorError } from '../errors.ts';

export interface LocalRedis {
  url: string;
  port: number;
  /** Stops the server (SIGTERM, then SIGKILL) and removes its directory. Safe to call twice. */
  stop(): Promise<void>;
  /** Kills the server with SIGKILL and keeps its directory, for outage tests. */
  kill(): Promise<void>;
  /** Starts the server again on the same port (after kill). */
  restart(): Promise<void>;
}

export class RedisServerMissingError extends OrchestratorError {
  override readonly cliExitCode: number = 2;
}

/** Asks the kernel for a free loopback port. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * Starts a private `redis-server` on a free loopback port, for the demo, the
 * benchmark and the tests: without persistence unless asked (outage tests
 * restart it). It is a real server: nothing here is a mock.
 */
export async function startLocalRedis(options: { binary?: string; port?: number; persistent?: boolean } = {}): Promise<LocalRedis> {
  const binary = options.binary ?? 'redis-server';
  if (spawnSync(binary, ['--version']).error) {
    throw new RedisServerMissingError(
      `"${binary}" was not found on PATH. Install it (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis) or point --redis / REDIS_URL at a running Redis.`,
    );
  }
  const port = options.port ?? (await freePort());
  const dir = await mkdtemp(join(tmpdir(), 'orch-redis-'));
  let child: ChildProcess | undefined;

  const launch = async (): Promise<void> => {
    const proc = spawn(
      binary,
      [
        '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', dir, '--daemonize', 'no',
        // persistent: every write reaches the append-only file before the reply, so a SIGKILL loses nothing.
        ...(options.persistent ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = proc;
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const onData = (chunk: Buffer): void => {
        out += chunk.toString();
        if (out.includes('Ready to accept connections')) {
          proc.stdout?.off('data', onData);
          proc.stdout?.resume();
          resolve();
        }
      };
      proc.stdout?.on('data', onData);
      proc.stderr?.resume();
      proc.once('exit', (code) => reject(new Error(`redis-server exited with code ${code} before it was ready:\n${out}`)));
    });
  };

  const terminate = async (signal: NodeJS.Signals): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  };

  await launch();
  let stopped: Promise<void> | undefined;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop: () =>
      (stopped ??= (async () => {
        await terminate('SIGTERM');
        await rm(dir, { recursive: true, force: true });
      })()),
    kill: () => terminate('SIGKILL'),
    restart: launch,
  };
}
