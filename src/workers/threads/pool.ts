import { availableParallelism } from 'node:os';
import { Worker, type TransferListItem } from 'node:worker_threads';
import { WorkerAbortedError } from '../errors.ts';
import { OrchestratorError } from '../../errors.ts';

/** A position in a walk's order (see walk.mjs): a depth and a workspace-relative path. */
export interface WalkPosition {
  depth: number;
  path: string;
}

/** Where and why a walk of a worker's folder stopped before it saw every file. */
export interface WalkCut {
  reason: 'time' | 'entries';
  /** The first path it did not reach, workspace-relative ('' when it stopped before the first file). */
  at: string;
  /** Files and folders it had looked at. */
  entries: number;
}

/** What a snapshot walk sends back: its files packed in a buffer the main thread only holds and hands back. */
export interface PackedSnapshot {
  data: ArrayBuffer;
  files: number;
  stopAt?: WalkPosition;
  cut?: WalkCut;
}

export interface WalkDiff {
  created: string[];
  modified: string[];
  deleted: string[];
  /** Set when either walk stopped early: past `cut.at` nothing is known. */
  cut?: WalkCut;
}

export interface SurveyWalk {
  exists: boolean;
  topLevel: string[];
  files: string[];
  truncated: boolean;
  timedOut: boolean;
}

interface WalkLimits {
  root: string;
  /** The walk stops itself after this long (checked between entries). */
  timeoutMs: number;
  maxEntries: number;
}

/** The jobs a pool thread knows (thread.mjs), with what each answers. */
export interface Jobs {
  snapshot: { job: WalkLimits; result: PackedSnapshot };
  diff: { job: WalkLimits & { before: PackedSnapshot }; result: WalkDiff };
  survey: { job: { root: string; maxFiles: number; maxDepth: number; timeoutMs: number; maxEntries: number }; result: SurveyWalk };
  glob: { job: { root: string; base: string; pattern: string; limit: number }; result: { files: string[]; total: number } };
  grep: {
    job: {
      root: string;
      base: string;
      isFile: boolean;
      filter: string;
      pattern: string;
      ignoreCase: boolean;
      mode: 'content' | 'files_with_matches' | 'count';
      lineNumbers: boolean;
      maxFileBytes: number;
      limit: number;
    };
    result: { entries: string[]; total: number };
  };
}
export type JobName = keyof Jobs;

/** The thread did not answer within its limit and was terminated. */
export class ThreadTimeoutError extends OrchestratorError {
  constructor(readonly limitMs: number) {
    super(`no answer within ${limitMs} ms`);
  }
}

/** The job failed in its thread (the message is the thread's), or the thread died under it. */
export class ThreadJobError extends OrchestratorError {}

const SCRIPT = new URL('./thread.mjs', import.meta.url);

/**
 * Threads the pool grows to when jobs overlap (tasks run Bash, Glob and
 * Grep at the same time); further jobs wait for a free one. Each job is
 * bounded by its limit, so the wait is too.
 */
export const MAX_THREADS = Math.max(2, Math.min(4, availableParallelism()));
/** A thread other than the first that has had nothing to do this long ends; the first stays, unref'd. */
const IDLE_MS = 30_000;

interface Pending {
  id: number;
  message: { op: JobName } & object;
  transfer: TransferListItem[];
  limitMs: number;
  resolve(value: unknown): void;
  reject(error: Error): void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  timer?: NodeJS.Timeout;
}

interface Thread {
  worker: Worker;
  job: Pending | undefined;
  idle?: NodeJS.Timeout;
}

const threads: Thread[] = [];
const waiting: Pending[] = [];
let lastId = 0;

function spawnThread(): Thread {
  const worker = new Worker(SCRIPT);
  const thread: Thread = { worker, job: undefined };
  worker.unref(); // referenced only while it has a job: an idle pool never keeps the process alive
  worker.on('message', (reply: { id: number; ok: true; result: unknown } | { id: number; ok: false; message: string }) => {
    const job = thread.job;
    if (job === undefined || reply.id !== job.id) return;
    release(thread, job);
    if (reply.ok) job.resolve(reply.result);
    else job.reject(new ThreadJobError(reply.message));
  });
  const died = (why: string) => {
    drop(thread);
    const job = thread.job;
    if (job === undefined) return;
    thread.job = undefined;
    settle(job);
    job.reject(new ThreadJobError(why));
    pump();
  };
  worker.on('error', (error) => died(`the thread failed: ${error.message}`));
  worker.on('exit', (code) => died(`the thread stopped (exit code ${code}) without an answer`));
  threads.push(thread);
  return thread;
}

function drop(thread: Thread): void {
  clearTimeout(thread.idle);
  const at = threads.indexOf(thread);
  if (at >= 0) threads.splice(at, 1);
}

function settle(job: Pending): void {
  clearTimeout(job.timer);
  if (job.onAbort) job.signal?.removeEventListener('abort', job.onAbort);
}

/** The job is answered: the thread takes the next one, or idles. */
function release(thread: Thread, job: Pending): void {
  settle(job);
  thread.job = undefined;
  thread.worker.unref();
  const next = waiting.shift();
  if (next !== undefined) return start(thread, next);
  if (thread !== threads[0]) {
    thread.idle = setTimeout(() => {
      if (thread.job !== undefined) return;
      drop(thread);
      void thread.worker.terminate();
    }, IDLE_MS);
    thread.idle.unref();
  }
}

/** Ends a running job now: its thread may be stuck in a regular expression or a syscall, so it goes too. */
function kill(thread: Thread, job: Pending, error: Error): void {
  drop(thread);
  thread.job = undefined;
  settle(job);
  void thread.worker.terminate();
  job.reject(error);
  pump();
}

function start(thread: Thread, job: Pending): void {
  if (job.onAbort) job.signal?.removeEventListener('abort', job.onAbort); // the one it had while it waited
  clearTimeout(thread.idle);
  thread.job = job;
  thread.worker.ref();
  job.timer = setTimeout(() => kill(thread, job, new ThreadTimeoutError(job.limitMs)), job.limitMs);
  if (job.signal) {
    job.onAbort = () => kill(thread, job, new WorkerAbortedError(job.signal?.reason));
    job.signal.addEventListener('abort', job.onAbort, { once: true });
  }
  thread.worker.postMessage({ id: job.id, job: job.message }, job.transfer);
}

/** Starts waiting jobs on idle threads, growing the pool up to MAX_THREADS. */
function pump(): void {
  while (waiting.length > 0) {
    const thread = threads.find((t) => t.job === undefined) ?? (threads.length < MAX_THREADS ? spawnThread() : undefined);
    if (thread === undefined) return;
    start(thread, waiting.shift()!);
  }
}

export interface RunOptions {
  /**
   * How long the thread may take once it has the job; past it the thread is
   * terminated and the job rejected with ThreadTimeoutError. Walks stop
   * themselves earlier (their job's timeoutMs), so this only catches a
   * thread stuck in one call.
   */
  limitMs: number;
  /** Aborting rejects with WorkerAbortedError (and terminates the thread if the job runs). */
  signal?: AbortSignal | undefined;
  /** Buffers handed to the thread without a copy (they become unusable here). */
  transfer?: TransferListItem[];
}

/**
 * Runs a walk or a search in one of a few long-lived worker threads, off
 * the listener's event loop: a thread costs tens of milliseconds to start,
 * a job on a running one a message each way.
 *
 * @example
 * const found = await runOffThread('glob', { root, base: root, pattern: '**\/*.ts', limit: 100 }, { limitMs: 10_000 });
 */
export function runOffThread<N extends JobName>(op: N, job: Jobs[N]['job'], options: RunOptions): Promise<Jobs[N]['result']> {
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(new WorkerAbortedError(signal.reason));
  return new Promise((resolve, reject) => {
    const pending: Pending = {
      id: ++lastId,
      message: { op, ...job },
      transfer: options.transfer ?? [],
      limitMs: options.limitMs,
      resolve: resolve as (value: unknown) => void,
      reject,
      signal,
      onAbort: undefined,
    };
    if (signal) {
      // While it waits for a thread, an abort only takes it out of the line.
      pending.onAbort = () => {
        const at = waiting.indexOf(pending);
        if (at >= 0) waiting.splice(at, 1);
        reject(new WorkerAbortedError(signal.reason));
      };
      signal.addEventListener('abort', pending.onAbort, { once: true });
    }
    waiting.push(pending);
    pump();
  });
}

/** Threads running now and jobs waiting for one; for tests and metrics. */
export function poolState(): { threads: number; busy: number; waiting: number } {
  return { threads: threads.length, busy: threads.filter((t) => t.job !== undefined).length, waiting: waiting.length };
}
