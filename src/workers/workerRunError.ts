import type { Usage } from '../protocol/output.ts';
import { OrchestratorError } from '../errors.ts';

/**
 * How a failed worker run reaches the worker machine: the I/O side decides
 * whether another attempt can help (`retryable`), so the machine's guard
 * needs no knowledge of the SDK's error classes.
 */
export class WorkerRunError extends OrchestratorError {
  override readonly retryable: boolean;
  /** What the failed attempt's answered model calls used and cost: spend counts whether or not the attempt succeeded. */
  readonly spent: Spent | undefined;
  constructor(message: string, options: { retryable: boolean; cause?: unknown; spent?: Spent }) {
    super(message, { cause: options.cause });
    this.retryable = options.retryable;
    this.spent = options.spent;
  }
}

export interface Spent {
  usage: Usage;
  /** Null: a call of a model without a price was made, so the dollars are unknown. */
  cost_usd: number | null;
}
