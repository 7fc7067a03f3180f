import { relative, isAbsolute } from 'node:path';
import { OrchestratorError } from '../errors.ts';

/** The path as a person would type it: relative to the working directory when the file is inside it. */
function shown(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
}

/**
 * An agent file cannot be used. The message names the file and the field and
 * says how to fix it (`agents/db-worker.md: tools: unknown tool "Delete"
 * (allowed: ...)`); start-up stops on it rather than running a worker with a
 * half-read definition.
 */
export class AgentFileError extends OrchestratorError {
  override readonly cliExitCode: number = 2;

  constructor(
    /** Path of the agent file (or folder) as given. */
    readonly file: string,
    /** The front-matter field at fault, or `front matter`, `body`, `file`, `directory`. */
    readonly field: string,
    problem: string,
    options?: ErrorOptions,
  ) {
    super(`${shown(file)}: ${field}: ${problem}`, options);
  }
}
