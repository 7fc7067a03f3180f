import { OrchestratorError } from '../../errors.ts';

/** A task box cannot be made on this machine (or with these options): the reason says what is missing. */
export class BoxUnavailableError extends OrchestratorError {}

/**
 * A task box stopped under a call, was closed, or broke its protocol (a
 * hostile command may take its tool server over): the box is gone, and the
 * task's next worker needs a new one. Retryable: a new box over the same
 * layers starts clean.
 */
export class BoxFailedError extends OrchestratorError {
  override readonly retryable: boolean = true;
}

/** One request the box could not carry out (a file too large to read, a write refused): the box itself goes on. */
export class BoxOperationError extends OrchestratorError {}
