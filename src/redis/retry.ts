import type { Redis } from 'ioredis';

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

export interface ResendOptions {
  /** Stops the retries (the caller no longer needs the answer). */
  signal?: AbortSignal | undefined;
  /** Called before each retry (tests count them; callers may log). */
  onRetry?: (error: unknown, attempt: number) => void;
}

/**
 * Sends a command again, after the reconnect, for as long as it fails with a
 * connection error (isConnectionError) and the connection is not closed for
 * good. Only for commands that are safe to run twice: idempotent by
 * construction (HSET of the same values, compare-and-delete) or made so (a
 * claim token, a fencing token, a batch number in the script). ioredis
 * itself resends a command that had no reply when the connection dropped;
 * this covers the ones it aborts instead.
 */
export async function resend<T>(redis: Redis, send: () => Promise<T>, o: ResendOptions = {}): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await send();
    } catch (error) {
      if (!isConnectionError(error) || redis.status === 'end' || o.signal?.aborted) throw error;
      o.onRetry?.(error, attempt);
      // Queued in ioredis's offline queue while it reconnects; a short pause avoids a busy loop on a closed socket.
      await new Promise((r) => setTimeout(r, Math.min(20 * 2 ** Math.min(attempt, 6), 1000)));
    }
  }
}
