import { spawn } from 'node:child_process';
import {
  closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, readlinkSync, readSync, rmSync, statfsSync, symlinkSync, unlinkSync, writeFileSync, chmodSync,
} from 'node:fs';
import path from 'node:path';
import { FileChangeLog } from '../changes.ts';
import { WorkerAbortedError } from '../errors.ts';
import { rlimitOnly } from '../sandbox/processLimit.ts';
import { runSandboxed } from '../sandbox/execute.ts';
import { PROXY_PORT, unsandboxed } from '../sandbox/sandbox.ts';
import { surveyWorkspace } from '../survey.ts';
import { getTools } from '../tools/index.ts';
import type { BashOptions, ToolContext, ToolName } from '../tools/index.ts';
import { Workspace } from '../workspace.ts';
import { layerEntries } from './layerWalk.ts';
import { layerTracker } from './layerTracker.ts';
import type { BoxChange } from './types.ts';
import { READ_CHUNK_BYTES, RUN_OUTPUT_BYTES, type Request, type ServerConfig, type WireFile } from './protocol.ts';

// What the tool server (server.ts) does, loaded by it right after it said
// it is ready: the tools, zod and the walks are most of its start-up, which
// thus overlaps the listener's first model call instead of delaying the box.
// It runs the real tools against a Workspace at the view's root, so the path
// checks, O_NOFOLLOW opens, FIFO and hard-link refusals hold inside as they
// did outside; it walks the layer and reads and writes files for the
// listener, which never opens a worker's file itself.

/** Answers the requests of one box. */
export async function createOps(config: ServerConfig): Promise<(request: Request) => Promise<unknown>> {
  const running = new Map<number, AbortController>();
  const workspace = await Workspace.open(config.root);
  mkdirSync('/tmp/home', { recursive: true });
  if (config.proxySocket !== undefined) bridgeProxy(config.proxySocket);
  const bash = bashOptions(config);
  return async (request) => {
    switch (request.op) {
      case 'call': {
        const controller = new AbortController();
        running.set(request.id, controller);
        try {
          return await call(config, bash, workspace, request.tool, request.input, controller.signal);
        } finally {
          running.delete(request.id);
        }
      }
      case 'cancel':
        running.get(request.target)?.abort();
        return null;
      case 'layer':
        return layerEntries(config.layer, config.base, workspace.root);
      case 'read':
        return read(workspace, request.path, request.offset ?? 0);
      case 'write':
        write(workspace, request.file);
        return null;
      case 'survey':
        return surveyWorkspace(workspace.root);
      case 'run': {
        // The project's checks: the same shell, limits and environment as a worker's Bash, the tail of the output kept.
        const controller = new AbortController();
        running.set(request.id, controller);
        try {
          return await runSandboxed(
            bash.sandbox,
            { command: request.command, binds: { writable: [workspace.root], readOnly: [] }, env: bash.env, limits: config.limits },
            { timeoutMs: request.timeoutMs, maxOutputBytes: RUN_OUTPUT_BYTES, keep: 'tail' },
            controller.signal,
          );
        } finally {
          running.delete(request.id);
        }
      }
    }
  };
}

function bashOptions(config: ServerConfig): BashOptions {
  return {
  timeoutMs: config.bashTimeoutMs,
  maxOutputBytes: config.maxOutputBytes,
  env: {
    ...config.env,
    HOME: '/tmp/home',
    TMPDIR: '/tmp',
    TMP: '/tmp',
    TEMP: '/tmp',
    ...(config.proxySocket === undefined
      ? {}
      : Object.fromEntries(
          ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy', 'npm_config_proxy', 'npm_config_https_proxy'].map((name) => [name, `http://127.0.0.1:${PROXY_PORT}`]),
        )),
  },
  // Already inside the box: each command is `bash -c` with the kernel limits set first (ulimit), in its own process group.
  sandbox: unsandboxed(rlimitOnly()),
  limits: config.limits,
  };
}

/**
 * A full layer in a tool's message, and what to do about it. Write and Edit
 * only write into the view, whose every write lands in the layer; a Bash
 * command may also have filled /tmp, so for it the layer must be (nearly)
 * full still.
 */
function quotaNote(config: ServerConfig, tool: ToolName, text: string): string {
  if (!/ENOSPC|No space left on device/i.test(text)) return text;
  if (tool === 'Bash') {
    let free = Number.POSITIVE_INFINITY;
    try {
      const fs = statfsSync(config.layer);
      free = fs.bavail * fs.bsize;
    } catch {
      // unknown: say nothing more
    }
    if (free > 256 * 1024) return text;
  }
  return (
    `${text}\nThe task's layer is full: a task may write at most ${config.layerBytes} bytes into its view (its layer quota, layerBytes). ` +
    'Remove files you no longer need (build outputs, caches) and try again; the operator can raise the quota.'
  );
}

async function call(config: ServerConfig, bash: BashOptions, workspace: Workspace, tool: ToolName, input: unknown, signal: AbortSignal) {
  const changes = new FileChangeLog(workspace.root);
  const ctx: ToolContext = {
    workspace, changes, signal, bash,
    binds: { writable: [workspace.root], readOnly: [] },
    tracker: layerTracker(workspace.root, config.layer, config.base),
  };
  const [implementation] = getTools([tool]);
  let text: string;
  let isError = false;
  try {
    text = await implementation!.run(input, ctx);
  } catch (error) {
    if (error instanceof WorkerAbortedError) throw error;
    text = quotaNote(config, tool, error instanceof Error ? error.message : String(error));
    isError = true;
  }
  const snapshot = changes.snapshot();
  const changed: BoxChange[] = [
    ...snapshot.created.map((p) => ({ path: p, change: 'created' as const })),
    ...snapshot.modified.map((p) => ({ path: p, change: 'modified' as const })),
    ...snapshot.deleted.map((p) => ({ path: p, change: 'deleted' as const })),
  ];
  return { text, isError, changed };
}

/** The path's state in the view: links reported, never followed; a FIFO or device never opened. */
function read(workspace: Workspace, rel: string, offset: number): WireFile {
  const absolute = workspace.lexical(rel);
  // A link on the way (a folder replaced by a link) means no such path in the view, as git would see it.
  for (let dir = path.dirname(absolute); dir !== workspace.root && dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const stats = lstatSync(dir, { throwIfNoEntry: false });
    if (stats === undefined || !stats.isDirectory()) return { path: rel, kind: 'absent' };
  }
  const stats = lstatSync(absolute, { throwIfNoEntry: false });
  if (stats === undefined) return { path: rel, kind: 'absent' };
  if (stats.isSymbolicLink()) return { path: rel, kind: 'symlink', target: readlinkSync(absolute) };
  if (!stats.isFile()) return { path: rel, kind: 'other' };
  const fd = openSync(absolute, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const opened = fstatSync(fd);
    if (!opened.isFile() || opened.ino !== stats.ino) return { path: rel, kind: 'other' };
    const want = Math.max(0, Math.min(READ_CHUNK_BYTES, opened.size - offset));
    const content = Buffer.alloc(want);
    let got = 0;
    while (got < want) {
      const n = readSync(fd, content, got, want - got, offset + got);
      if (n === 0) break;
      got += n;
    }
    return {
      path: rel,
      kind: 'file',
      executable: (opened.mode & 0o111) !== 0,
      content: content.subarray(0, got).toString('base64'),
      size: opened.size,
      offset,
      version: `${opened.dev}:${opened.ino}:${opened.mtimeMs}:${opened.ctimeMs}:${opened.size}`,
    };
  } finally {
    closeSync(fd);
  }
}

/** Puts one state into the view (a resumed task's replay): what is at the path goes first. */
function write(workspace: Workspace, file: WireFile): void {
  const absolute = workspace.lexical(file.path);
  const parent = workspace.locate(path.dirname(absolute));
  if (parent.stats !== undefined && !parent.stats.isDirectory()) rmSync(parent.path, { force: true });
  const existing = lstatSync(absolute, { throwIfNoEntry: false });
  if (existing !== undefined && (file.kind !== 'file' || !existing.isFile())) rmSync(absolute, { recursive: true, force: true });
  if (file.kind === 'absent') return;
  mkdirSync(path.dirname(absolute), { recursive: true });
  if (file.kind === 'symlink') symlinkSync(file.target ?? '', absolute);
  else if (file.kind === 'file') {
    const mode = file.executable === true ? 0o755 : 0o644;
    if (existing?.isFile() && existing.nlink > 1) unlinkSync(absolute); // never write through a hard link
    writeFileSync(absolute, Buffer.from(file.content ?? '', 'base64'), { mode, flag: 'w' });
    chmodSync(absolute, mode);
  } else throw new Error(`${file.path}: a ${file.kind} cannot be written into the view`);
}

/** One socat for the box, bridging 127.0.0.1:3128 to the egress proxy's socket, as the Bash sandbox does per command. */
function bridgeProxy(socket: string): void {
  const bridge = spawn('socat', [`TCP-LISTEN:${PROXY_PORT},bind=127.0.0.1,fork,reuseaddr`, `UNIX-CONNECT:${socket}`], { stdio: 'ignore' });
  bridge.on('error', () => undefined);
}
