import path from 'node:path';
import type { FileChangeLog } from '../changes.ts';
import type { ChangeTracker } from '../tools/tool.ts';
import { filesBelow, hiddenByOpaque, inBase, walkLayer, type LayerStat } from './layerWalk.ts';

/**
 * Bash's change tracking inside the box (runs in the tool server): the
 * layer is walked before and after the command and the two compared, so
 * the cost grows with what the task changed, not with the project. Whether
 * a path existed before the task is asked of the lower view alone (`base`).
 */
export function layerTracker(root: string, layer: string, base: string): ChangeTracker {
  return {
    async before() {
      const before = walkLayer(layer);
      return async (changes) => {
        recordLayerChanges(before, walkLayer(layer), { root, base }, changes);
        return undefined;
      };
    },
  };
}

interface Where {
  root: string;
  base: string;
}

/** Files the view showed at `rel` just before: the lower view's under it, and the layer's own. */
function filesThatWereAt(rel: string, before: Map<string, LayerStat>, where: Where): string[] {
  const own = before.get(rel);
  if (own?.kind === 'deleted') return [];
  const out = new Set<string>();
  if (own === undefined || own.kind === 'dir') {
    const lower = inBase(where.base, rel);
    if (lower === 'entry' && own === undefined) out.add(rel);
    if (lower === 'dir') for (const file of filesBelow(where.base, rel)) if (before.get(file)?.kind !== 'deleted') out.add(file);
  }
  if (own !== undefined && own.kind !== 'dir') out.add(rel);
  for (const [file, stat] of before) if (file.startsWith(`${rel}/`) && stat.kind !== 'dir' && stat.kind !== 'deleted') out.add(file);
  return [...out];
}

export function recordLayerChanges(before: Map<string, LayerStat>, after: Map<string, LayerStat>, where: Where, changes: FileChangeLog): void {
  const at = (rel: string) => path.join(where.root, rel);
  const deleted = new Set<string>();
  for (const [rel, now] of after) {
    const was = before.get(rel);
    if (was?.key === now.key) continue;
    if (now.kind === 'deleted') {
      for (const file of filesThatWereAt(rel, before, where)) deleted.add(file);
    } else if (now.kind === 'file' || now.kind === 'symlink') {
      const existed = was !== undefined ? was.kind === 'file' || was.kind === 'symlink' : inBase(where.base, rel) === 'entry';
      changes.record(at(rel), existed);
    } else if (now.kind === 'dir') {
      // A folder made anew over a lower one (opaque) hides the lower files without a whiteout.
      for (const hidden of hiddenByOpaque(rel, where.base, where.root, after)) {
        if (before.has(hidden) && before.get(hidden)?.kind === 'deleted') continue;
        for (const file of filesThatWereAt(hidden, before, where)) deleted.add(file);
      }
    }
  }
  for (const [rel, was] of before) {
    // Written by the task and removed again, with nothing below it in the lower view: no whiteout is left.
    if (!after.has(rel) && (was.kind === 'file' || was.kind === 'symlink')) deleted.add(rel);
  }
  // Once each: the log takes a second deletion of a file the run created as a deletion of a file that was there.
  for (const rel of deleted) if (!after.has(rel) || after.get(rel)?.kind === 'deleted') changes.recordDeleted(at(rel));
}
