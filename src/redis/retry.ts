import type { Redis } from 'ioredis';
import { isConnectionError } from '../errors.ts';

export interface ResendOptions {
  /** Stops the retries (the caller no longer needs the answer). */
  signal?: AbortSignal | undefined;
  /** Called before each retry (tests count them; callers may log). */
  onRetry?: (error: unknown, attempt: number) => void;
}

/**
 * Sends a command again, after the reconnect, for as long as it fails with a
 * connection error (isConnectionError, in src/errors.ts) and the connection is not closed for
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
