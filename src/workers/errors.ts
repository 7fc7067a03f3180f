import { OrchestratorError } from '../errors.ts';

/** A tool was asked for a path outside the task's workspace (by `..`, an absolute path or a symlink). */
export class WorkspaceEscapeError extends OrchestratorError {
  constructor(
    readonly requested: string,
    readonly root: string,
    why: string,
  ) {
    super(`${JSON.stringify(requested)} is outside the workspace ${root} (${why}): use a path inside the workspace`);
  }
}

/** The model sent a tool input that does not match the tool's schema. */
export class ToolInputError extends OrchestratorError {}

/** A tool ran but could not do what was asked (missing file, no match, non-zero exit, time limit). */
export class ToolExecutionError extends OrchestratorError {}

/** The agent still wanted tools after `maxTurns` model calls. */
export class AgentTurnLimitError extends OrchestratorError {
  constructor(readonly maxTurns: number) {
    super(
      `the agent was still calling tools after ${maxTurns} model turns: raise maxTurns, or give the worker a smaller part of the task`,
    );
  }
}

/** The worker used up its token budget (all its turns together) and still wanted tools. */
export class AgentTokenBudgetError extends OrchestratorError {
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
export class WorkerAbortedError extends OrchestratorError {
  /** As the platform names an abort (DOMException), so code that tells aborts by name tells this one too. */
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
export class WorkerWritesFailedError extends OrchestratorError {
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
export class UnknownWorkerError extends OrchestratorError {}
