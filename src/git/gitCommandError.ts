import { OrchestratorError } from '../errors.ts';

/** A git command that exited non-zero (or could not start): its arguments, exit code and stderr. */
export class GitCommandError extends OrchestratorError {
  constructor(
    readonly args: readonly string[],
    readonly exitCode: number | null,
    readonly stderr: string,
    readonly stdout: string,
  ) {
    super(`git ${args.join(' ')} failed (exit ${exitCode ?? 'none'}): ${stderr.trim().slice(0, 500) || 'no message'}`);
  }
}
