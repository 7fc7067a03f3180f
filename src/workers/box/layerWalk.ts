import { lstatSync, readdirSync, type BigIntStats } from 'node:fs';
import path from 'node:path';
import type { LayerEntry } from './types.ts';

// Runs inside the box (the tool server): walks the task's layer, the
// overlay's upper folder, which holds only what the task changed, so every
// cost here grows with the changes, never with the project. overlayfs marks
// a deleted path with a whiteout (a character device 0:0) and hides a whole
// lower folder behind an opaque folder (rmdir, then mkdir at the same name),
// which carries an xattr Node cannot read: such folders are found by
// comparing their listing with the lower view's.

/** One path of the layer: its kind and a key that changes whenever its content or metadata does. */
export interface LayerStat {
  kind: LayerEntry['kind'];
  key: string;
}

function kindOf(stats: BigIntStats): LayerEntry['kind'] {
  if (stats.isFile()) return 'file';
  if (stats.isSymbolicLink()) return 'symlink';
  if (stats.isDirectory()) return 'dir';
  if (stats.isCharacterDevice() && stats.rdev === 0n) return 'deleted';
  return 'other';
}

function lstatOrUndefined(file: string): BigIntStats | undefined {
  try {
    return lstatSync(file, { bigint: true, throwIfNoEntry: false });
  } catch {
    return undefined; // ENOTDIR: something on the way is not a folder
  }
}

/** Every path of the layer (workspace-relative), breadth-first; links never followed. */
export function walkLayer(layer: string): Map<string, LayerStat> {
  const found = new Map<string, LayerStat>();
  const queue: string[] = [''];
  while (queue.length > 0) {
    const dir = queue.shift()!;
    let names: string[];
    try {
      names = readdirSync(path.join(layer, dir));
    } catch {
      continue; // removed while we walked
    }
    for (const name of names.sort()) {
      const rel = dir === '' ? name : `${dir}/${name}`;
      const stats = lstatOrUndefined(path.join(layer, rel));
      if (stats === undefined) continue;
      const kind = kindOf(stats);
      found.set(rel, { kind, key: `${kind}:${stats.ino}:${stats.mtimeNs}:${stats.ctimeNs}:${stats.size}` });
      if (kind === 'dir') queue.push(rel);
    }
  }
  return found;
}

/**
 * Names the lower view has in `dir` that the view no longer shows although
 * the layer holds no whiteout for them: hidden by an opaque folder.
 */
export function hiddenByOpaque(dir: string, base: string, view: string, layer: Map<string, LayerStat>): string[] {
  const lower = lstatOrUndefined(path.join(base, dir));
  if (lower === undefined || !lower.isDirectory()) return [];
  let names: string[];
  try {
    names = readdirSync(path.join(base, dir));
  } catch {
    return [];
  }
  return names
    .map((name) => `${dir}/${name}`)
    .filter((rel) => !layer.has(rel) && lstatOrUndefined(path.join(view, rel)) === undefined);
}

/** Whether the lower view (before the task) holds `rel`, and as what. */
export function inBase(base: string, rel: string): 'dir' | 'entry' | undefined {
  const stats = lstatOrUndefined(path.join(base, rel));
  if (stats === undefined) return undefined;
  return stats.isDirectory() ? 'dir' : 'entry';
}

/** The files and links below a folder of the lower view, workspace-relative (what a deleted folder took with it). */
export function filesBelow(base: string, rel: string): string[] {
  const out: string[] = [];
  const queue = [rel];
  while (queue.length > 0) {
    const dir = queue.shift()!;
    let entries;
    try {
      entries = readdirSync(path.join(base, dir), { withFileTypes: true });
    } catch {
      continue;
    }
    for (const entry of entries) {
      const child = `${dir}/${entry.name}`;
      if (entry.isDirectory()) queue.push(child);
      else out.push(child);
    }
  }
  return out.sort();
}

/** The layer as the contract states it: whiteouts as `deleted`, and what opaque folders hide as `deleted` too. */
export function layerEntries(layer: string, base: string, view: string): LayerEntry[] {
  const walked = walkLayer(layer);
  const entries: LayerEntry[] = [];
  for (const [rel, { kind }] of walked) {
    entries.push({ path: rel, kind });
    if (kind === 'dir') for (const hidden of hiddenByOpaque(rel, base, view, walked)) entries.push({ path: hidden, kind: 'deleted' });
  }
  return entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
