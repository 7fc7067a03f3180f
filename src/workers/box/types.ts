import type { ToolName } from '../tools/tool.ts';
import type { WorkspaceSurvey } from '../survey.ts';

/**
 * The contract between the task box (src/workers/box/: one sandbox per task,
 * over a copy-on-write view of the project, in which every tool runs) and
 * the project side that builds its lower view and turns its layer into
 * commits (src/project/, src/git/). Paths are workspace-relative, posix.
 */

/** One path whose state in the task's layer differs from the lower view. */
export interface LayerEntry {
  path: string;
  /** `deleted`: a whiteout (the path was in the lower view and is gone). `other`: a FIFO, socket or device: never committed. */
  kind: 'file' | 'symlink' | 'dir' | 'deleted' | 'other';
}

/** A path's state in the view, as read (or to be written) inside the box: the listener never opens a worker's file. */
export interface BoxFile {
  path: string;
  kind: 'file' | 'symlink' | 'absent' | 'other';
  /** `file`: whether any execute bit is set. */
  executable?: boolean;
  /** `file`: its bytes. */
  content?: Buffer;
  /** `symlink`: where it points, as written. */
  target?: string;
}

/** What one tool call changed in the view, for the worker's change log. */
export interface BoxChange {
  path: string;
  change: 'created' | 'modified' | 'deleted';
}

export interface BoxCallResult {
  /** What the model sees. */
  text: string;
  isError: boolean;
  changed: BoxChange[];
}

/** A command run in the box to its end: the tail of its output, its exit code (null: it never exited, killed at its time limit). */
export interface BoxRun {
  output: string;
  exitCode: number | null;
  timedOut: boolean;
  durationMs: number;
}

/** Kernel-enforced limits of one box, whoever starts the listener. */
export interface BoxLimits {
  /** Processes (threads included) alive at once in the box. */
  processes: number;
  /** Memory of the box's processes (address space per process where no memory cgroup can be made). */
  memoryBytes: number;
  /** CPU seconds per process. */
  cpuSeconds: number;
  /** The largest file a process may write. */
  fileSizeBytes: number;
  /** The box's private /tmp. */
  tmpBytes: number;
  /** Bytes the task may write to its layer; past it a write fails with a clear tool error. */
  layerBytes: number;
}

export interface BoxOptions {
  taskId: string;
  /** Lower layers of the view, top first (overlayfs `lowerdir` order); none may change while the box lives. */
  lower: readonly string[];
  /** Absolute path at which the view appears inside the box: the workspace root the worker's tools and prompts name. */
  root: string;
  limits: BoxLimits;
  /** The whole environment of commands inside (build it with `sandboxEnv`). */
  env: Record<string, string>;
  /** Unix socket of the egress proxy (`--allow-domain`); absent: no network. */
  proxySocket?: string;
  /** Default and ceiling of a Bash command's run time. */
  bashTimeoutMs: number;
  /** Output kept per Bash command. */
  maxOutputBytes: number;
}

/**
 * One task's box, alive while the task runs. Every Read, Write, Edit, Glob,
 * Grep and Bash of every worker of the task runs inside it; its writes land
 * in the task's layer, never in the project's folder or another task's view.
 */
export interface TaskBox {
  readonly root: string;
  /** Runs one tool inside the box; a failure of the tool is an `isError` result, not a throw. */
  call(tool: ToolName, input: unknown, signal: AbortSignal): Promise<BoxCallResult>;
  /** Everything in the task's layer (a walk of the layer only: its cost grows with the changes, not the project). */
  layer(): Promise<LayerEntry[]>;
  /** The current state of these paths in the view, read inside the box. */
  read(paths: readonly string[]): Promise<BoxFile[]>;
  /** Puts these states into the view (`absent` deletes): a resumed task's commits are replayed this way. */
  write(files: readonly BoxFile[]): Promise<void>;
  /** The workspace survey of the worker prompt (src/workers/survey.ts), taken inside the box. */
  survey(): Promise<WorkspaceSurvey>;
  /**
   * Runs one shell command in the view's root with the box's limits and its
   * environment, to its end or `timeoutMs` (then killed, `exitCode` null):
   * the project's checks. Never throws for the command's own failure.
   */
  run(command: string, timeoutMs: number, signal: AbortSignal): Promise<BoxRun>;
  /** Stops every process of the box; its mounts go with its namespace. Idempotent. */
  close(): Promise<void>;
}

export type StartBox = (options: BoxOptions) => Promise<TaskBox>;
