import { stat } from 'node:fs/promises';
import { ToolExecutionError, WorkspaceEscapeError } from '../errors.ts';
import type { Workspace } from '../workspace.ts';

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
