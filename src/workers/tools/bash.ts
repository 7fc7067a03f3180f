import { spawn } from 'node:child_process';
import { z } from 'zod';
import { ToolExecutionError, WorkerAbortedError } from '../errors.ts';
import type { SandboxedCommand } from '../sandbox/command.ts';
import { DEFAULT_LIMITS } from '../sandbox/sandbox.ts';
import { DEFAULT_WALK_MAX_ENTRIES, DEFAULT_WALK_TIMEOUT_MS, type WalkLimits } from '../threads/walkLimits.ts';
import { recordChanges, snapshotWorkspace } from './workspaceSnapshot.ts';
import { defineTool, type ChangeTracker } from './tool.ts';

/** How long streams may stay open after bash exits before we stop waiting for them. */
const DRAIN_MS = 500;

const schema = z.object({
  command: z.string().min(1).describe('The bash command to run, in the workspace root'),
  timeout: z.number().int().min(1).optional().describe('Time limit in milliseconds (capped by the configured limit)'),
  description: z.string().optional().describe('What the command does, in 5-10 words'),
});

interface Outcome {
  output: string;
  exitCode: number | null;
  timedOut: boolean;
}

/** Keeps the first `cap` bytes of stdout and stderr as they arrive, and counts the rest. */
function outputCollector(cap: number) {
  const chunks: Buffer[] = [];
  let kept = 0;
  let dropped = 0;
  return {
    add(chunk: Buffer) {
      const take = Math.min(Math.max(0, cap - kept), chunk.length);
      if (take > 0) chunks.push(chunk.subarray(0, take));
      kept += take;
      dropped += chunk.length - take;
    },
    text() {
      const text = Buffer.concat(chunks).toString('utf8');
      if (dropped === 0) return text;
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
 * killed too: a worker run leaves no process behind.
 */
function execute(run: SandboxedCommand, timeoutMs: number, cap: number, signal: AbortSignal) {
  return new Promise<Outcome>((resolve, reject) => {
    const child = spawn(run.file, run.args, {
      cwd: run.cwd,
      env: run.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(run.uid === undefined ? {} : { uid: run.uid, gid: run.gid ?? run.uid }),
    });
    const output = outputCollector(cap);
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
    }, timeoutMs);
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
      resolve({ output: output.text(), exitCode, timedOut });
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

/** The default tracker: the workspace's mtimes and sizes, walked off the main thread before and after. */
function walkTracker(root: string, walk: WalkLimits): ChangeTracker {
  return {
    async before(signal) {
      const snapshot = await snapshotWorkspace(root, walk, signal);
      return (changes, after) => recordChanges(snapshot, root, walk, changes, after);
    },
  };
}

/**
 * Bash cannot say which files a command wrote, so the workspace's mtimes and
 * sizes are compared before and after each command (see workspaceSnapshot.ts)
 * and the differences go into the change log like any other tool's writes.
 * Both walks run in a worker thread with a time and an entry limit: a huge
 * folder slows its own worker's commands, never the listener, and when a
 * walk is cut short the result says which changes went unrecorded.
 */
export const bashTool = defineTool({
  name: 'Bash',
  description:
    'Runs a bash command in the workspace root, inside a sandbox: only the workspace and /tmp are writable, there is ' +
    'no network unless the operator allowed some hosts, and nothing survives the command. Returns its combined stdout ' +
    'and stderr. A non-zero exit code or the time limit is reported as an error.',
  schema,
  async run(input, { workspace, changes, signal, bash, binds, tracker }) {
    if (signal.aborted) throw new WorkerAbortedError(signal.reason);
    const timeoutMs = Math.min(input.timeout ?? bash.timeoutMs, bash.timeoutMs);
    const run = bash.sandbox.wrap({
      command: input.command,
      binds: binds ?? { writable: [workspace.root], readOnly: [] },
      env: bash.env,
      limits: bash.limits ?? DEFAULT_LIMITS,
      ...(bash.proxySocket === undefined ? {} : { proxySocket: bash.proxySocket }),
    });
    const walk = { timeoutMs: bash.walkTimeoutMs ?? DEFAULT_WALK_TIMEOUT_MS, maxEntries: bash.walkMaxEntries ?? DEFAULT_WALK_MAX_ENTRIES };
    const track = tracker ?? walkTracker(workspace.root, walk);
    let outcome: Outcome;
    let after;
    try {
      after = await track.before(signal);
      outcome = await execute(run, timeoutMs, bash.maxOutputBytes, signal);
    } finally {
      // Every process of the command is gone or going (its group was killed): its cgroup goes too.
      await run.release?.();
    }
    if (signal.aborted) throw new WorkerAbortedError(signal.reason);
    const note = await after(changes, signal);
    const output = (outcome.output === '' ? '(no output)' : outcome.output) + (note === undefined ? '' : `\n${note}`);
    if (outcome.timedOut) {
      throw new ToolExecutionError(`${output}\nThe command was killed after ${timeoutMs} ms (its time limit): split the work into shorter commands`);
    }
    if (outcome.exitCode !== 0) {
      throw new ToolExecutionError(`${output}\nExit code ${outcome.exitCode ?? 'none (killed by a signal)'}`);
    }
    return output;
  },
});
