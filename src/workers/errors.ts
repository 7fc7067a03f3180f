import { APIConnectionError, APIError, APIUserAbortError } from '@anthropic-ai/sdk';
import { ScriptedFailureError } from '../models/scripted.ts';
import { isConnectionError } from '../redis/retry.ts';
import { WorkerRunError } from './workerRunError.ts';

/** A tool was asked for a path outside the task's workspace (by `..`, an absolute path or a symlink). */
export class WorkspaceEscapeError extends Error {
  override name = 'WorkspaceEscapeError';
  constructor(
    readonly requested: string,
    readonly root: string,
    why: string,
  ) {
    super(`${JSON.stringify(requested)} is outside the workspace ${root} (${why}): use a path inside the workspace`);
  }
}

/** The model sent a tool input that does not match the tool's schema. */
export class ToolInputError extends Error {
  override name = 'ToolInputError';
}

/** A tool ran but could not do what was asked (missing file, no match, non-zero exit, time limit). */
export class ToolExecutionError extends Error {
  override name = 'ToolExecutionError';
}

/** The agent still wanted tools after `maxTurns` model calls. */
export class AgentTurnLimitError extends Error {
  override name = 'AgentTurnLimitError';
  constructor(readonly maxTurns: number) {
    super(
      `the agent was still calling tools after ${maxTurns} model turns: raise maxTurns, or give the worker a smaller part of the task`,
    );
  }
}

/** The worker used up its token budget (all its turns together) and still wanted tools. */
export class AgentTokenBudgetError extends Error {
  override name = 'AgentTokenBudgetError';
  constructor(
    readonly budget: number,
    readonly used: number,
  ) {
    super(
      `the agent used ${used} tokens, over its budget of ${budget}, and was still calling tools: raise workerTokenBudget, or give the worker a smaller part of the task`,
    );
  }
}

/** The run was cancelled through its AbortSignal (the actor stopped, the task timed out). */
export class WorkerAbortedError extends Error {
  override name = 'AbortError';
  constructor(reason?: unknown) {
    super('the worker run was aborted', { cause: reason });
  }
}

/**
 * Every file write a worker run attempted (Write, Edit) failed and nothing
 * else changed a file: the worker did not do its part, whatever its final
 * answer says. Not retryable: a full disk or a read-only folder fails the
 * next attempt the same way.
 */
export class WorkerWritesFailedError extends Error {
  override name = 'WorkerWritesFailedError';
  constructor(
    readonly worker: string,
    readonly failures: readonly { path: string; error: string }[],
  ) {
    const shown = failures.slice(0, 3).map((f) => `${f.path} (${f.error})`).join('; ');
    const more = failures.length > 3 ? ` and ${failures.length - 3} more` : '';
    super(`every file write of ${worker} failed, nothing was written: ${shown}${more}`);
  }
}

/** No agent file defines the worker a plan step names. */
export class UnknownWorkerError extends Error {
  override name = 'UnknownWorkerError';
}

/** Network-level failures of a body that was already streaming; the SDK does not retry those itself. */
const TRANSIENT_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);
/** Error types an SSE `error` event carries (status unknown there) that a later attempt may not hit. */
const TRANSIENT_TYPES = new Set(['overloaded_error', 'api_error', 'rate_limit_error', 'timeout_error']);

function hasTransientCode(error: unknown, depth = 0): boolean {
  if (!(error instanceof Error) || depth > 5) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && TRANSIENT_CODES.has(code)) return true;
  return hasTransientCode(error.cause, depth + 1);
}

/**
 * Whether another attempt of the worker may succeed. The SDK has already
 * retried 408/409/429/5xx itself (honouring retry-after) by the time an
 * APIError reaches us, so these are retried again only at the worker's
 * slower pace. Client errors (400/401/403/404/413/422), the turn limit,
 * workspace escapes and aborts are not: the same input fails the same way.
 * A lost connection to Redis always is (an aborted auto-pipelined command,
 * a socket error): the next attempt runs after the reconnect.
 */
export function isRetryable(error: unknown): boolean {
  if (error instanceof WorkerRunError) return error.retryable;
  if (isConnectionError(error)) return true;
  if (error instanceof ScriptedFailureError) return true;
  if (error instanceof APIUserAbortError || error instanceof WorkerAbortedError) return false;
  if (error instanceof APIConnectionError) return true;
  if (error instanceof APIError) {
    const { status } = error;
    if (status === undefined) return error.type !== null && TRANSIENT_TYPES.has(error.type);
    return status === 408 || status === 409 || status === 429 || status >= 500;
  }
  return hasTransientCode(error);
}
