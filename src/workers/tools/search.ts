import { WorkerAbortedError, ToolExecutionError } from '../errors.ts';
import { runOffThread, ThreadTimeoutError, type Jobs } from '../threads/pool.ts';

/** Default time limit of one Glob or Grep (the schema's searchTimeoutMs). */
export { DEFAULT_SEARCH_TIMEOUT_MS } from '../../optionDefaults.ts';

/**
 * Runs one Glob or Grep in the tool threads (threads/pool.ts) and
 * terminates its thread at the time limit or on abort: JavaScript regular
 * expressions backtrack, and glob patterns compile to them, so a hostile
 * pattern can run for minutes; it does so off the event loop and is cut
 * off. V8 checks for termination inside a running regular expression, so
 * terminate() ends it. The thread sorts and cuts the answer to `limit`
 * entries before it crosses back.
 */
export async function runSearch<N extends 'glob' | 'grep'>(op: N, job: Jobs[N]['job'], timeoutMs: number, signal: AbortSignal): Promise<Jobs[N]['result']> {
  const tool = op === 'glob' ? 'Glob' : 'Grep';
  try {
    return await runOffThread(op, job, { limitMs: timeoutMs, signal });
  } catch (error) {
    if (error instanceof WorkerAbortedError) throw error;
    if (error instanceof ThreadTimeoutError) {
      throw new ToolExecutionError(
        `${tool} was stopped after ${timeoutMs} ms: the pattern may backtrack catastrophically (nested quantifiers such as (a+)+, many wildcards); simplify it or narrow the path`,
      );
    }
    throw new ToolExecutionError(`the search failed: ${(error as Error).message}`);
  }
}
