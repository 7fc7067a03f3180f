import { z } from 'zod';
import { ToolExecutionError, WorkerAbortedError } from '../errors.ts';
import { execute, type ExecuteOutcome } from '../sandbox/execute.ts';
import { DEFAULT_LIMITS } from '../sandbox/sandbox.ts';
import { DEFAULT_WALK_MAX_ENTRIES, DEFAULT_WALK_TIMEOUT_MS, type WalkLimits } from '../threads/walkLimits.ts';
import { recordChanges, snapshotWorkspace } from './workspaceSnapshot.ts';
import { defineTool, type ChangeTracker } from './tool.ts';

const schema = z.object({
  command: z.string().min(1).describe('The bash command to run, in the workspace root'),
  timeout: z.number().int().min(1).optional().describe('Time limit in milliseconds (capped by the configured limit)'),
  description: z.string().optional().describe('What the command does, in 5-10 words'),
});

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
    let outcome: ExecuteOutcome;
    let after;
    try {
      after = await track.before(signal);
      outcome = await execute(run, { timeoutMs, maxOutputBytes: bash.maxOutputBytes }, signal);
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
