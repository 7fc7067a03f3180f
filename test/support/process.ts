import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

const BIN = resolve(import.meta.dirname, '../../bin/backend-orchestrator.mjs');

export interface OrchestratorProcess {
  child: ChildProcess;
  output: () => string;
  /** Resolves once the process logged that it is listening. */
  ready: Promise<void>;
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

/** A real `backend-orchestrator start` process, as it is deployed (`as`: under another user, when the tests run as root). */
export function spawnOrchestrator(args: string[], env: NodeJS.ProcessEnv = {}, as: { uid?: number; gid?: number } = {}): OrchestratorProcess {
  const child = spawn(process.execPath, [BIN, 'start', '--model', 'scripted', '--log-level', 'info', ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...as,
  });
  let out = '';
  let onReady: () => void;
  const ready = new Promise<void>((r) => (onReady = r));
  const collect = (chunk: Buffer) => {
    out += chunk.toString();
    if (out.includes('"msg":"listening"')) onReady();
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return {
    child,
    output: () => out,
    ready,
    exited,
    kill: async (signal = 'SIGKILL') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Flags that make a takeover happen in about a second: heartbeats, recovery passes, orphan grace and claim blocking kept short. */
export const FAST_RECOVERY = ['--heartbeat-ms', '200', '--recovery-ms', '150', '--orphan-grace-ms', '1000', '--claim-timeout', '0.1'];
