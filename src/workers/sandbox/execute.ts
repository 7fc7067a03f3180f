import { spawn } from 'node:child_process';
import { ToolExecutionError } from '../errors.ts';
import type { SandboxedCommand } from './command.ts';
import type { Sandbox, SandboxRequest } from './sandbox.ts';

/** How long streams may stay open after the command exits before we stop waiting for them. */
const DRAIN_MS = 500;

export interface ExecuteOutcome {
  output: string;
  exitCode: number | null;
  timedOut: boolean;
}

export interface ExecuteOptions {
  timeoutMs: number;
  /** Output kept (stdout and stderr together); the rest is dropped with a note. */
  maxOutputBytes: number;
  /** Which end to keep: `head` (Bash: the model reads on with a file) or `tail` (a check: the failure is at the end). Default head. */
  keep?: 'head' | 'tail';
}

/** Keeps the first (or last) `cap` bytes of stdout and stderr as they arrive, and counts the rest. */
function outputCollector(cap: number, keep: 'head' | 'tail') {
  let chunks: Buffer[] = [];
  let kept = 0;
  let dropped = 0;
  return {
    add(chunk: Buffer) {
      if (keep === 'tail') {
        chunks.push(chunk);
        kept += chunk.length;
        if (kept > 2 * cap) {
          const all = Buffer.concat(chunks);
          dropped += all.length - cap;
          chunks = [all.subarray(all.length - cap)];
          kept = cap;
        }
        return;
      }
      const take = Math.min(Math.max(0, cap - kept), chunk.length);
      if (take > 0) chunks.push(chunk.subarray(0, take));
      kept += take;
      dropped += chunk.length - take;
    },
    text() {
      let all = Buffer.concat(chunks);
      if (keep === 'tail' && all.length > cap) {
        dropped += all.length - cap;
        all = all.subarray(all.length - cap);
      }
      const text = all.toString('utf8');
      if (dropped === 0) return text;
      if (keep === 'tail') return `… [${dropped} earlier bytes of output dropped]\n${text}`;
      return `${text}\n… [${dropped} more bytes of output cut at ${cap}: redirect to a file and Read it in parts]`;
    },
  };
}

/**
 * Runs the sandboxed command in its own process group, so the time limit and
 * the abort signal kill it and everything it started (SIGKILL: a trap cannot
 * stretch the limit). In the bwrap sandbox the command has its own pid
 * namespace, which the kernel empties when bwrap goes: a `setsid` child
 * that left the group dies with it. When the command exits, stragglers are
 * killed too: a run leaves no process behind. The Bash tool and the
 * project's checks (`--verify`) both run their commands through here.
 */
export function execute(run: SandboxedCommand, options: ExecuteOptions, signal: AbortSignal): Promise<ExecuteOutcome> {
  return new Promise<ExecuteOutcome>((resolve, reject) => {
    const child = spawn(run.file, run.args, {
      cwd: run.cwd,
      env: run.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(run.uid === undefined ? {} : { uid: run.uid, gid: run.gid ?? run.uid }),
    });
    const output = outputCollector(options.maxOutputBytes, options.keep ?? 'head');
    let timedOut = false;
    let exitCode: number | null = null;
    const killGroup = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // the group is already gone
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, options.timeoutMs);
    const onAbort = () => killGroup();
    signal.addEventListener('abort', onAbort, { once: true });
    let drain: NodeJS.Timeout | undefined;
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(drain);
      signal.removeEventListener('abort', onAbort);
      resolve({ output: output.text(), exitCode: timedOut ? null : exitCode, timedOut });
    };
    child.stdout.on('data', output.add);
    child.stderr.on('data', output.add);
    child.on('error', (error) => {
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      reject(new ToolExecutionError(`${run.file} could not be started (${error.message}): is it installed?`));
    });
    child.on('exit', (code) => {
      exitCode = code;
      if (settled) return;
      killGroup();
      // A grandchild that left the group may still hold the pipes: do not wait on it forever.
      drain = setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
        finish();
      }, DRAIN_MS);
    });
    child.on('close', (code: number | null) => {
      exitCode ??= code;
      finish();
    });
    if (signal.aborted) killGroup();
  });
}

/** One command's run to its end (a check's, in the box or in the Bash sandbox). */
export interface CommandRun extends ExecuteOutcome {
  durationMs: number;
}

/** Wraps the command in the sandbox, runs it to its end or time limit, and removes what was made for it (its cgroup). */
export async function runSandboxed(sandbox: Sandbox, request: SandboxRequest, options: ExecuteOptions, signal: AbortSignal): Promise<CommandRun> {
  const started = performance.now();
  const run = sandbox.wrap(request);
  try {
    const outcome = await execute(run, options, signal);
    return { ...outcome, durationMs: Math.round(performance.now() - started) };
  } finally {
    await run.release?.();
  }
}
