import { OrchestratorError } from '../errors.ts';

/**
 * Why a model's answer ended a worker run without its part done:
 * `refusal` (the model declined; a configured fallback model was tried
 * first), `truncated` (cut at max_tokens even at the model's own limit),
 * `context_exceeded` (the conversation outgrew the context window),
 * `no_work` (a final answer with no content from a run that changed nothing).
 */
export type ModelStopReason = 'refusal' | 'truncated' | 'context_exceeded' | 'no_work';

/**
 * A stop reason that is not a success. The message starts with the reason
 * (`refusal: …`), which is how it reads in `details[worker].error`. Only
 * `no_work` is retried: a fresh attempt may do the work; a refusal was
 * already retried on the fallback model, and the other two would end the
 * same way.
 */
export class ModelStopError extends OrchestratorError {
  override readonly retryable: boolean;
  constructor(
    readonly reason: ModelStopReason,
    detail: string,
  ) {
    super(`${reason}: ${detail}`);
    this.retryable = reason === 'no_work';
  }
}
