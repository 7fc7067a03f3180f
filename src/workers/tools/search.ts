import { Worker } from 'node:worker_threads';
import { ToolExecutionError, WorkerAbortedError } from '../errors.ts';

/** Default time limit of one Glob or Grep. */
export const DEFAULT_SEARCH_TIMEOUT_MS = 10_000;

export type SearchJob =
  | { op: 'glob'; root: string; base: string; pattern: string }
  | {
      op: 'grep';
      root: string;
      base: string;
      isFile: boolean;
      filter: string;
      pattern: string;
      ignoreCase: boolean;
      mode: 'content' | 'files_with_matches' | 'count';
      lineNumbers: boolean;
      maxFileBytes: number;
    };

type Reply = { ok: true; result: unknown } | { ok: false; message: string };

const WORKER_URL = new URL('./searchWorker.mjs', import.meta.url);

/**
 * Runs one search in a worker thread of its own and terminates it at the
 * time limit or on abort: JavaScript regular expressions backtrack, and
 * glob patterns compile to them, so a hostile pattern can run for minutes;
 * it does so off the event loop and is cut off. V8 checks for termination
 * inside a running regular expression, so terminate() ends it.
 */
export function runSearch<T>(job: SearchJob, timeoutMs: number, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new WorkerAbortedError(signal.reason));
  return new Promise<T>((resolve, reject) => {
    const worker = new Worker(WORKER_URL, { workerData: job });
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      void worker.terminate();
      outcome();
    };
    const timer = setTimeout(() => {
      const tool = job.op === 'glob' ? 'Glob' : 'Grep';
      settle(() =>
        reject(new ToolExecutionError(`${tool} was stopped after ${timeoutMs} ms: the pattern may backtrack catastrophically (nested quantifiers such as (a+)+, many wildcards); simplify it or narrow the path`)),
      );
    }, timeoutMs);
    const onAbort = () => settle(() => reject(new WorkerAbortedError(signal.reason)));
    signal.addEventListener('abort', onAbort, { once: true });
    worker.once('message', (reply: Reply) =>
      settle(() => (reply.ok ? resolve(reply.result as T) : reject(new ToolExecutionError(reply.message)))),
    );
    worker.once('error', (error) => settle(() => reject(new ToolExecutionError(`the search failed: ${error.message}`))));
    worker.once('exit', (code) => settle(() => reject(new ToolExecutionError(`the search stopped (exit code ${code}) without an answer`))));
  });
}
