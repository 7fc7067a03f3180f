import { stat } from 'node:fs/promises';
import { glob } from 'tinyglobby';
import { ToolExecutionError, WorkspaceEscapeError } from '../errors.ts';
import type { Workspace } from '../workspace.ts';

const IGNORE = ['**/node_modules/**', '**/.git/**'];

/** Refuses patterns that could match outside their base folder; the base itself went through resolve. */
export function checkPattern(pattern: string, workspace: Workspace): void {
  if (pattern.startsWith('/') || pattern.split('/').includes('..')) {
    throw new WorkspaceEscapeError(pattern, workspace.root, 'glob patterns must be relative to `path` and contain no ..');
  }
}

/** The folder a search starts from (`path`, default the root), checked to be a directory inside the workspace. */
export async function searchBase(workspace: Workspace, relOrAbs: string | undefined): Promise<{ base: string; isFile: boolean }> {
  const base = await workspace.resolve(relOrAbs ?? '.');
  const stats = await stat(base).catch(() => undefined);
  if (stats === undefined) {
    throw new ToolExecutionError(`${workspace.relative(base) || '.'} does not exist: search from the workspace root (omit path)`);
  }
  return { base, isFile: !stats.isDirectory() };
}

/**
 * Absolute paths of the files under `base` matching `pattern`. Symlinked
 * folders are not followed, so a link cannot take the walk outside the
 * workspace; node_modules and .git are skipped as noise.
 */
export async function globFiles(workspace: Workspace, base: string, pattern: string): Promise<string[]> {
  const files = await glob(pattern, {
    cwd: base,
    absolute: true,
    dot: true,
    onlyFiles: true,
    followSymbolicLinks: false,
    expandDirectories: false,
    ignore: IGNORE,
  });
  // checkPattern catches `..` segments; this catches whatever glob syntax might still climb out.
  return files.filter((file) => !workspace.relative(file).startsWith('..'));
}
