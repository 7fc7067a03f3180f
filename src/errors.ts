import { APIConnectionError, APIError, APIUserAbortError } from '@anthropic-ai/sdk';

/**
 * The base of every error the orchestrator throws, as the SDK has
 * `AnthropicError`: one `instanceof` tells ours from a library's, `name` is
 * the class's name (set here, once, for all of them), `cause` is passed
 * through, and `retryable` says whether another attempt of the same work can
 * succeed. It is false unless a class says otherwise: most of ours name
 * something a person has to fix (an option, a file, a budget), which the next
 * attempt would meet again. `shouldRetry` below reads it.
 */
export class OrchestratorError extends Error {
  /** Whether another attempt of the same work may succeed (read by `shouldRetry`). */
  readonly retryable: boolean = false;
  /**
   * When this error ends a CLI command: its exit code, and the message is
   * printed alone (it says what to change; a stack would only hide that).
   * Undefined for a fault: printed with its stack, exit 1. `main` reads it.
   */
  readonly cliExitCode: number | undefined = undefined;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * A bad option, flag, variable or file given at start-up: start-up stops
 * with its message (which names what to change) and exit code 2.
 */
export class ConfigError extends OrchestratorError {
  override readonly cliExitCode: number = 2;
}

/**
 * A mistake in the command line itself (a flag's value, an argument): exit
 * 2, and `main` follows the message with a pointer to the command's `--help`,
 * as it does for commander's own usage errors.
 */
export class UsageError extends ConfigError {}

const ABORTED = 'Command aborted due to connection close';
const CLOSED = 'Connection is closed.';
const SOCKET_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'ENOTCONN', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * Whether a Redis command failed because the connection went away, not
 * because Redis refused it. Such a command may or may not have run: ioredis
 * aborts an auto-pipelined command whose pipeline had a partial reply when
 * the connection closed (AbortError "Command aborted due to connection
 * close"), and a command on a connection closed for good fails with
 * "Connection is closed.". Looks through `cause` (a WorkerRunError wrapping one).
 */
export function isConnectionError(error: unknown, depth = 0): boolean {
  if (!(error instanceof Error) || depth > 5) return false;
  if (error.name === 'AbortError' && error.message.startsWith(ABORTED)) return true;
  if (error.name === 'MaxRetriesPerRequestError') return true;
  if (error.message === CLOSED) return true;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && SOCKET_CODES.has(code)) return true;
  return isConnectionError(error.cause, depth + 1);
}

/** Network-level failures of a body that was already streaming (undici's, Node's), looked for through `cause`. */
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
 * The one answer to "can another attempt help?", for a model call (the
 * guarded model's retries), a worker attempt (the worker machine's retry
 * states) and anything else that retries. Ours answer by their own
 * `retryable`; foreign errors are judged here and nowhere else:
 *
 * - a lost connection to Redis (isConnectionError): yes, the next attempt
 *   runs after the reconnect;
 * - the SDK's: a user abort no; a connection failure yes; an API status as
 *   the SDK's own `shouldRetry` reads it (408, 409, 429, 5xx and 529 yes;
 *   400, 401, 403, 404, 413, 422 no: the same request fails the same way);
 *   an `error` event inside a stream (no status) by its type;
 * - a Node or undici socket failure (ECONNRESET, UND_ERR_SOCKET ...), also
 *   as the `cause` of another error: yes;
 * - anything else (an AbortError, a bug): no.
 */
export function shouldRetry(error: unknown): boolean {
  if (error instanceof OrchestratorError) return error.retryable;
  if (isConnectionError(error)) return true;
  if (error instanceof APIUserAbortError) return false;
  if (error instanceof APIConnectionError) return true;
  if (error instanceof APIError) {
    const { status } = error;
    if (status === undefined) return error.type !== null && TRANSIENT_TYPES.has(error.type);
    return status === 408 || status === 409 || status === 429 || status >= 500;
  }
  return hasTransientCode(error);
}
