/**
 * How a failed worker run reaches the worker machine: the I/O side decides
 * whether another attempt can help (`retryable`), so the machine's guard
 * needs no knowledge of the SDK's error classes.
 */
export class WorkerRunError extends Error {
  override name = 'WorkerRunError';
  readonly retryable: boolean;
  constructor(message: string, options: { retryable: boolean; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.retryable = options.retryable;
  }
}
