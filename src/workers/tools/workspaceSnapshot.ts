import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { FileChangeLog } from '../changes.ts';

/** Folders whose churn (installs, git objects) is not the worker's output and too large to walk. */
const SKIP_DIRS = new Set(['.git', 'node_modules']);
/** Enough for a service's source tree; past it, later files go unrecorded rather than slow every command. */
export const SNAPSHOT_FILE_CAP = 5000;

interface Entry {
  mtimeNs: bigint;
  size: bigint;
}

export interface WorkspaceSnapshot {
  files: Map<string, Entry>;
  /** True when the cap was hit: files past it are not compared. */
  truncated: boolean;
}

/**
 * Modification time and size of every file under root (symlinks as
 * themselves), breadth-first. Only readdir and lstat: no file is opened, so
 * a FIFO or a device in the workspace cannot block the walk.
 */
export async function snapshotWorkspace(root: string, cap = SNAPSHOT_FILE_CAP): Promise<WorkspaceSnapshot> {
  const files = new Map<string, Entry>();
  const queue = [root];
  while (queue.length > 0) {
    const dir = queue.shift()!;
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      continue; // removed or unreadable while we walk: nothing to compare
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const entry of entries) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (!SKIP_DIRS.has(entry.name)) queue.push(full);
        continue;
      }
      if (files.size >= cap) return { files, truncated: true };
      try {
        const stats = await lstat(full, { bigint: true });
        files.set(full, { mtimeNs: stats.mtimeNs, size: stats.size });
      } catch {
        // gone between readdir and lstat
      }
    }
  }
  return { files, truncated: false };
}

/**
 * Records what a command did, from the difference of two snapshots: a new
 * path is created, a changed mtime or size is modified, a missing one is
 * deleted. A file rewritten with the same size within the filesystem's
 * timestamp granularity is missed; on ext4, APFS and tmpfs that is a
 * nanosecond.
 */
export function recordDifference(before: WorkspaceSnapshot, after: WorkspaceSnapshot, changes: FileChangeLog): void {
  for (const [file, entry] of after.files) {
    const old = before.files.get(file);
    if (old === undefined) {
      // Past the first snapshot's cap we cannot tell new from unseen: leave it out rather than guess.
      if (!before.truncated) changes.record(file, false);
    } else if (old.mtimeNs !== entry.mtimeNs || old.size !== entry.size) {
      changes.record(file, true);
    }
  }
  if (after.truncated) return;
  for (const file of before.files.keys()) {
    if (!after.files.has(file)) changes.recordDeleted(file);
  }
}
