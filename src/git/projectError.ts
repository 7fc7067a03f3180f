import { ConfigError } from '../errors.ts';

/**
 * The project given with --project cannot be used as asked (not a git
 * repository for worktree isolation, mid-merge, mid-rebase, detached HEAD).
 * A ConfigError, so start-up stops with its message and exit code 2.
 */
export class ProjectError extends ConfigError {}
