// Walks of a worker's folder, in a worker thread (see pool.ts): the
// snapshot Bash takes before a command, the diff against it after, and the
// planner's survey. Plain JavaScript: a worker thread does not inherit the
// TypeScript loader.
//
// Each walk is breadth-first with the names of a folder in code-unit order,
// so the files it meets come in (depth, path) order, comparing paths folder
// by folder. Two walks of the same tree meet them in the same order whatever
// changed in between, which lets a diff merge the 'after' walk with the
// 'before' one as it goes: neither walk is ever held as a map of paths, and
// a walk cut short (time or entry limit) covers exactly the paths before the
// point where it stopped, so the diff stays exact up to there.
import { lstatSync, opendirSync } from 'node:fs';

/** Folders whose churn (installs, git objects) is not the worker's output and too large to walk. */
const SNAPSHOT_SKIP = new Set(['.git', 'node_modules']);
const SLASH = 47;

/**
 * Compares two workspace-relative paths folder by folder in code-unit
 * order, as the walk meets them: `a/x` < `a-b/x` (the folder `a` ends first).
 * @param {string} a @param {string} b
 */
export function comparePaths(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) {
      if (x === SLASH) return -1;
      if (y === SLASH) return 1;
      return x - y;
    }
  }
  return a.length - b.length;
}

/** @typedef {{ depth: number, path: string }} Position */

/** @param {number} depthA @param {string} a @param {number} depthB @param {string} b */
function compareKeys(depthA, a, depthB, b) {
  return depthA !== depthB ? depthA - depthB : comparePaths(a, b);
}

/** @param {{ name: string }} x @param {{ name: string }} y */
const byName = (x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0);

/**
 * The entries of a folder, unsorted, or the error code when it cannot be
 * read; `more` is set when it holds over `max` (only that many are read: a
 * folder of millions of names costs what the limit allows, not its size).
 * @param {string} dir @param {number} max
 * @returns {{ list: import('node:fs').Dirent[], more: boolean } | { code: string }}
 */
function readEntries(dir, max) {
  let handle;
  try {
    handle = opendirSync(dir, { bufferSize: 1024 });
  } catch (error) {
    return { code: /** @type {NodeJS.ErrnoException} */ (error).code ?? 'EIO' };
  }
  try {
    /** @type {import('node:fs').Dirent[]} */
    const list = [];
    for (let entry = handle.readSync(); entry !== null; entry = handle.readSync()) {
      if (list.length >= max) return { list, more: true };
      list.push(entry);
    }
    return { list, more: false };
  } catch (error) {
    return { code: /** @type {NodeJS.ErrnoException} */ (error).code ?? 'EIO' };
  } finally {
    handle.closeSync();
  }
}

/**
 * @typedef {object} WalkLimits
 * @property {number} deadline Date.now() past which the walk stops.
 * @property {number} maxEntries Files and folders it looks at before it stops.
 * @property {Position} [stopAt] Stop at this position (exclusive): the end of what the 'before' walk covered.
 */

/**
 * @typedef {object} WalkEnd
 * @property {'time' | 'entries' | 'stopAt' | undefined} reason Why it stopped early; undefined: it saw every file.
 * @property {Position | undefined} at The first position it did not cover (every earlier file was seen).
 * @property {number} entries Files and folders looked at.
 */

/**
 * Calls `visit(depth, path, stats)` for every file under root that is not a
 * folder (links as themselves, never followed), in (depth, path) order.
 * Only readdir and lstat: no file is opened, so a FIFO or a device in the
 * workspace cannot block the walk.
 * @param {string} root
 * @param {WalkLimits} limits
 * @param {(depth: number, path: string, stats: import('node:fs').Stats) => void} visit
 * @returns {WalkEnd}
 */
function walkFiles(root, limits, visit) {
  /** @type {string[]} */
  const dirs = [''];
  /** @type {number[]} */
  const depths = [0];
  let entries = 0;
  /** @type {(reason: WalkEnd['reason'], at: Position) => WalkEnd} */
  const end = (reason, at) => ({ reason, at, entries });
  const past = (depth, path) => limits.stopAt !== undefined && compareKeys(depth, path, limits.stopAt.depth, limits.stopAt.path) >= 0;
  for (let head = 0; head < dirs.length; head++) {
    const dir = /** @type {string} */ (dirs[head]);
    const depth = /** @type {number} */ (depths[head]) + 1;
    // Dropped as the walk goes: a tree of many folders is not held twice.
    dirs[head] = '';
    // The files of this folder come next: `dir/` sorts before each of them and after every file met so far.
    const first = dir === '' ? '' : `${dir}/`;
    if (past(depth, first)) return end('stopAt', limits.stopAt);
    if (Date.now() > limits.deadline) return end('time', { depth, path: first });
    const read = readEntries(dir === '' ? root : `${root}/${dir}`, limits.maxEntries - entries);
    if ('code' in read) continue; // removed or unreadable while we walk: nothing to compare, in either walk
    // Its names come unsorted: none of them is covered unless all of them are.
    if (read.more) return end('entries', { depth, path: first });
    const list = read.list.sort(byName);
    for (const entry of list) {
      const path = dir === '' ? entry.name : `${dir}/${entry.name}`;
      if ((entries & 255) === 0 && Date.now() > limits.deadline) return end('time', { depth, path });
      entries++;
      if (entry.isDirectory()) {
        if (!SNAPSHOT_SKIP.has(entry.name)) {
          dirs.push(path);
          depths.push(depth);
        }
        continue;
      }
      if (past(depth, path)) return end('stopAt', limits.stopAt);
      let stats;
      try {
        stats = lstatSync(`${root}/${path}`, { throwIfNoEntry: false });
      } catch {
        continue; // its folder was swapped or closed to us meanwhile: as if it were gone
      }
      if (stats === undefined) continue; // gone between readdir and lstat
      visit(depth, path, stats);
    }
  }
  return { reason: undefined, at: undefined, entries };
}

/**
 * A snapshot's files, packed in one buffer in walk order: per file its
 * depth (u16), the byte length of its path (u32), the path (UTF-8), then
 * mtime, ctime (ms, with the sub-microsecond part the kernel gives) and
 * size as float64. The buffer is transferred to the main thread and back
 * without a copy; the main thread never reads it.
 */
class Packer {
  constructor() {
    this.buffer = Buffer.allocUnsafe(64 * 1024);
    this.length = 0;
    this.count = 0;
  }

  /** @param {number} depth @param {string} path @param {import('node:fs').Stats} stats */
  push(depth, path, stats) {
    const need = 6 + Buffer.byteLength(path) + 24;
    if (this.length + need > this.buffer.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + need));
      this.buffer.copy(bigger, 0, 0, this.length);
      this.buffer = bigger;
    }
    const b = this.buffer;
    let at = this.length;
    b.writeUInt16LE(depth, at);
    const written = b.write(path, at + 6, 'utf8');
    b.writeUInt32LE(written, at + 2);
    at += 6 + written;
    b.writeDoubleLE(stats.mtimeMs, at);
    b.writeDoubleLE(stats.ctimeMs, at + 8);
    b.writeDoubleLE(stats.size, at + 16);
    this.length = at + 24;
    this.count++;
  }

  /** The packed bytes in an ArrayBuffer of their own, ready to transfer. */
  done() {
    const out = new ArrayBuffer(this.length);
    this.buffer.copy(new Uint8Array(out), 0, 0, this.length);
    return out;
  }
}

/** Reads a packed snapshot back, one file at a time. */
class Unpacker {
  /** @param {ArrayBuffer} data */
  constructor(data) {
    this.buffer = Buffer.from(data);
    this.offset = 0;
    /** @type {{ depth: number, path: string, mtimeMs: number, ctimeMs: number, size: number } | undefined} */
    this.current = undefined;
    this.next();
  }

  next() {
    const b = this.buffer;
    if (this.offset >= b.length) {
      this.current = undefined;
      return;
    }
    const depth = b.readUInt16LE(this.offset);
    const bytes = b.readUInt32LE(this.offset + 2);
    const start = this.offset + 6;
    const path = b.toString('utf8', start, start + bytes);
    const at = start + bytes;
    this.current = { depth, path, mtimeMs: b.readDoubleLE(at), ctimeMs: b.readDoubleLE(at + 8), size: b.readDoubleLE(at + 16) };
    this.offset = at + 24;
  }
}

/** @param {WalkEnd} end */
const cutOf = (end) =>
  end.reason === undefined || end.reason === 'stopAt' ? undefined : { reason: end.reason, at: end.at?.path ?? '', entries: end.entries };

/**
 * The 'before' snapshot of a Bash command.
 * @param {{ root: string, timeoutMs: number, maxEntries: number }} job
 */
export function snapshot(job) {
  const packer = new Packer();
  const end = walkFiles(job.root, { deadline: Date.now() + job.timeoutMs, maxEntries: job.maxEntries }, (depth, path, stats) => {
    packer.push(depth, path, stats);
  });
  const data = packer.done();
  return {
    result: { data, files: packer.count, ...(end.at ? { stopAt: end.at } : {}), cut: cutOf(end) },
    transfer: [data],
  };
}

/**
 * Walks the folder again and merges it with the 'before' snapshot: a path
 * only after is created, one in both with another mtime, ctime or size is
 * modified, one only before is deleted. Only these differences go back.
 * Past the point where either walk stopped nothing is known, so nothing is
 * said: the answer's `cut` says where that was.
 * @param {{ root: string, timeoutMs: number, maxEntries: number, before: { data: ArrayBuffer, stopAt?: Position, cut?: object } }} job
 */
export function diff(job) {
  const old = new Unpacker(job.before.data);
  /** @type {string[]} */ const created = [];
  /** @type {string[]} */ const modified = [];
  /** @type {string[]} */ const deleted = [];
  const limits = { deadline: Date.now() + job.timeoutMs, maxEntries: job.maxEntries, ...(job.before.stopAt ? { stopAt: job.before.stopAt } : {}) };
  const end = walkFiles(job.root, limits, (depth, path, stats) => {
    let was = old.current;
    while (was !== undefined && compareKeys(was.depth, was.path, depth, path) < 0) {
      deleted.push(was.path);
      old.next();
      was = old.current;
    }
    if (was !== undefined && was.depth === depth && was.path === path) {
      if (was.mtimeMs !== stats.mtimeMs || was.ctimeMs !== stats.ctimeMs || was.size !== stats.size) modified.push(path);
      old.next();
    } else {
      created.push(path);
    }
  });
  // The walk covered everything the snapshot did (it ended, or reached where the snapshot stopped): the rest is gone.
  if (end.reason === undefined || end.reason === 'stopAt') {
    for (let was = old.current; was !== undefined; old.next(), was = old.current) deleted.push(was.path);
  }
  const cut = cutOf(end) ?? job.before.cut;
  return { result: { created, modified, deleted, ...(cut ? { cut } : {}) }, transfer: [] };
}

/** Never descended into by the survey: dependencies, VCS data and build output say nothing about the project's own layout. */
const SURVEY_SKIP = new Set([
  'node_modules', '.git', '.hg', '.svn', 'dist', 'build', 'out', 'coverage', '.next', '.nuxt', '.turbo',
  '.cache', 'vendor', '__pycache__', '.venv', 'venv', '.tox', 'target',
]);

/**
 * The planner's look at a workspace: its top level and the paths of the
 * first `maxFiles` regular files, breadth-first (so a cap keeps the top of
 * the tree), skipping dependency and build folders and links. survey.ts
 * sorts them into categories.
 * @param {{ root: string, maxFiles: number, maxDepth: number, timeoutMs: number, maxEntries: number }} job
 */
export function survey(job) {
  const deadline = Date.now() + job.timeoutMs;
  /** @type {string[]} */ const topLevel = [];
  /** @type {string[]} */ const files = [];
  let truncated = false;
  let timedOut = false;
  let seen = 0;
  const queue = [{ dir: '', depth: 0 }];
  for (let head = 0; head < queue.length && !truncated; head++) {
    const { dir, depth } = /** @type {{ dir: string, depth: number }} */ (queue[head]);
    if (Date.now() > deadline) {
      truncated = timedOut = true;
      break;
    }
    const read = readEntries(dir === '' ? job.root : `${job.root}/${dir}`, job.maxEntries - seen);
    if ('code' in read) {
      if (dir === '' && read.code === 'ENOENT') return { result: { exists: false, topLevel, files, truncated, timedOut }, transfer: [] };
      continue; // an unreadable folder is not a reason to know nothing
    }
    // Past the entry limit a folder is not read to its end: what was read stands for it, and the walk ends there.
    if (read.more) truncated = true;
    seen += read.list.length;
    // Code-point order, not the locale's: the same tree gives the same prompt on every machine.
    for (const entry of read.list.sort(byName)) {
      const path = dir === '' ? entry.name : `${dir}/${entry.name}`;
      if (dir === '') topLevel.push(entry.isDirectory() ? `${entry.name}/` : entry.name);
      if (entry.isDirectory()) {
        if (!SURVEY_SKIP.has(entry.name) && depth < job.maxDepth) queue.push({ dir: path, depth: depth + 1 });
        continue;
      }
      if (!entry.isFile()) continue;
      if (files.length >= job.maxFiles) {
        truncated = true;
        break;
      }
      files.push(path);
    }
  }
  return { result: { exists: true, topLevel, files, truncated, timedOut }, transfer: [] };
}
