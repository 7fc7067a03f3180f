import type { FileChangeLog } from '../changes.ts';
import { WorkerAbortedError } from '../errors.ts';
import { runOffThread, ThreadTimeoutError, type PackedSnapshot, type WalkCut } from '../threads/pool.ts';
import { hardLimitMs, type WalkLimits } from '../threads/walkLimits.ts';

/** The 'before' of a Bash command: a packed snapshot the main thread only holds, or why there is none. */
export type WorkspaceSnapshot = { ok: true; packed: PackedSnapshot } | { ok: false; why: string };

function whyFailed(error: unknown, limits: WalkLimits): string {
  if (error instanceof ThreadTimeoutError) return `the walk did not answer within ${error.limitMs} ms (its limit is ${limits.timeoutMs} ms)`;
  return `the walk failed: ${(error as Error).message}`;
}

/**
 * Modification time, change time and size of every file under root (links
 * as themselves, never followed; node_modules and .git left out), taken in
 * a worker thread, which keeps them packed in one buffer: the main thread
 * holds it without reading it and hands it back to `recordChanges`.
 */
export async function snapshotWorkspace(root: string, limits: WalkLimits, signal?: AbortSignal): Promise<WorkspaceSnapshot> {
  try {
    const packed = await runOffThread('snapshot', { root, ...limits }, { limitMs: hardLimitMs(limits.timeoutMs), signal });
    return { ok: true, packed };
  } catch (error) {
    if (error instanceof WorkerAbortedError) throw error;
    return { ok: false, why: whyFailed(error, limits) };
  }
}

function cutNote(cut: WalkCut, limits: WalkLimits): string {
  const limit =
    cut.reason === 'time'
      ? `it stops after ${limits.timeoutMs} ms`
      : `it stops after ${limits.maxEntries} files and folders (node_modules and .git are not walked)`;
  const where = cut.at === '' ? 'before the first file' : `at ${JSON.stringify(cut.at)} (breadth-first, by name)`;
  return (
    `Note: the workspace is too large to track this command's file changes in full: ${limit}, and it stopped ${where}. ` +
    'Changes past that point are not in the change log, so they will not be committed. ' +
    'Keep bulk files out of the workspace, and make the changes you need with Write or Edit, which are always recorded.'
  );
}

/**
 * Walks the folder again in the worker thread, which merges it with the
 * snapshot and sends back only the differences: a new path is created, a
 * changed mtime, ctime or size is modified, a missing one is deleted. A
 * file rewritten with the same size within the timestamps' resolution is
 * missed; on ext4, APFS and tmpfs that is well under a microsecond.
 *
 * When either walk was cut short, what lies before the point where it
 * stopped is still compared exactly and recorded, and nothing past it;
 * when the snapshot could not be taken at all, nothing is. Either way the
 * answer is a note for the tool result saying so; undefined when every
 * change was tracked.
 */
export async function recordChanges(
  before: WorkspaceSnapshot,
  root: string,
  limits: WalkLimits,
  changes: FileChangeLog,
  signal?: AbortSignal,
): Promise<string | undefined> {
  const untracked = (why: string) =>
    `Note: this command's file changes could not be tracked: ${why}. Nothing it did is in the change log, so none of it will be committed; ` +
    'make the changes you need with Write or Edit, which are always recorded.';
  if (!before.ok) return untracked(before.why);
  let found;
  try {
    found = await runOffThread('diff', { root, ...limits, before: before.packed }, {
      limitMs: hardLimitMs(limits.timeoutMs),
      signal,
      transfer: [before.packed.data],
    });
  } catch (error) {
    if (error instanceof WorkerAbortedError) throw error;
    return untracked(whyFailed(error, limits));
  }
  const at = (rel: string) => `${root}/${rel}`;
  for (const file of found.created) changes.record(at(file), false);
  for (const file of found.modified) changes.record(at(file), true);
  for (const file of found.deleted) changes.recordDeleted(at(file));
  return found.cut === undefined ? undefined : cutNote(found.cut, limits);
}
