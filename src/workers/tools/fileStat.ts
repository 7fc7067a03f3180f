import { statSync, type Stats } from 'node:fs';
import { ToolExecutionError } from '../errors.ts';

/**
 * The file's stats, or undefined when nothing is there. Synchronous inside
 * (the tools touch small files of a local workspace; see Workspace.followLinks).
 */
export async function statIfExists(absolute: string): Promise<Stats | undefined> {
  try {
    return statSync(absolute, { throwIfNoEntry: false });
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw error;
  }
}

/** Stats of an existing regular file, or a ToolExecutionError telling the model what to do instead. */
export async function requireFile(absolute: string, shown: string): Promise<Stats> {
  return checkFile(await statIfExists(absolute), shown);
}

/** `requireFile` for stats already at hand (Workspace.locate). */
export function checkFile(stats: Stats | undefined, shown: string): Stats {
  if (stats === undefined) {
    throw new ToolExecutionError(`${shown} does not exist: find files with Glob, or create it with Write`);
  }
  if (stats.isDirectory()) {
    throw new ToolExecutionError(`${shown} is a directory: list it with Glob (pattern "${shown}/*") or Bash ls`);
  }
  return stats;
}

/** Text files only: a NUL byte in the first 8 KiB marks a binary file, as git and grep decide. */
export function looksBinary(content: Buffer): boolean {
  return content.subarray(0, 8192).includes(0);
}
