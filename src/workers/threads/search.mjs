// The Glob and Grep work, in a worker thread (see pool.ts): a pattern that
// backtracks catastrophically (`^(a+)+$`, `*a*a*a*a*a*ab`) burns this
// thread, never the listener's event loop, and the pool terminates it at its
// time limit. What crosses back is already sorted and cut to what the model
// is shown, so a folder of 400,000 matches costs the main thread nothing.
// Plain JavaScript: a worker thread does not inherit the TypeScript loader.
import { closeSync, constants, fstatSync, lstatSync, openSync, readlinkSync, readSync } from 'node:fs';
import path from 'node:path';
import { glob } from 'tinyglobby';
import { expandBraces } from './braces.mjs';

const IGNORE = ['**/node_modules/**', '**/.git/**'];
const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK } = constants;

/** @param {string} root @param {string} candidate */
function isInside(root, candidate) {
  const rel = path.relative(root, candidate);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** @param {string} root @param {string} base @param {string} pattern */
async function files(root, base, pattern) {
  const found = await glob(expandBraces(pattern), {
    cwd: base, absolute: true, dot: true, onlyFiles: true, followSymbolicLinks: false, expandDirectories: false, ignore: IGNORE,
  });
  return found.filter((file) => isInside(root, file));
}

/**
 * The text of a regular, singly linked file inside root, or undefined. Opened
 * without following a link and without blocking (a FIFO), and the open file's
 * real path (from /proc) checked: a folder swapped for a link meanwhile
 * cannot lead the read outside.
 * @param {string} root @param {string} file @param {number} maxBytes
 */
function searchable(root, file, maxBytes) {
  let fd;
  try {
    fd = openSync(file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile() || stats.nlink > 1 || stats.size > maxBytes) return undefined;
    if (!isInside(root, readlinkSync(`/proc/self/fd/${fd}`))) return undefined;
    const buffer = Buffer.alloc(stats.size);
    let read = 0;
    while (read < buffer.length) {
      const n = readSync(fd, buffer, read, buffer.length - read, read);
      if (n === 0) break;
      read += n;
    }
    const content = buffer.subarray(0, read);
    if (content.subarray(0, 8192).includes(0)) return undefined; // binary, as git and grep decide
    return content.toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/**
 * Matching files, most recently modified first (then by name), at most
 * `job.limit` of them, and how many matched in all.
 * @param {{ root: string, base: string, pattern: string, limit: number }} job
 */
export async function globOp(job) {
  const found = await files(job.root, job.base, job.pattern);
  const dated = found.map((file) => {
    let mtime = 0;
    try {
      mtime = lstatSync(file).mtimeMs;
    } catch {
      // removed meanwhile
    }
    return { file: path.relative(job.root, file).split(path.sep).join('/'), mtime };
  });
  dated.sort((a, b) => b.mtime - a.mtime || (a.file < b.file ? -1 : 1));
  return { result: { files: dated.slice(0, job.limit).map(({ file }) => file), total: dated.length }, transfer: [] };
}

/**
 * Matching lines, files or counts, at most `job.limit` entries, and how many there were in all.
 * @param {{ root: string, base: string, isFile: boolean, filter: string, pattern: string, ignoreCase: boolean, mode: string, lineNumbers: boolean, maxFileBytes: number, limit: number }} job
 */
export async function grepOp(job) {
  const regex = new RegExp(job.pattern, job.ignoreCase ? 'i' : '');
  const list = job.isFile ? [job.base] : (await files(job.root, job.base, job.filter)).sort();
  /** @type {string[]} */
  const entries = [];
  let total = 0;
  const add = (entry) => {
    if (total++ < job.limit) entries.push(entry);
  };
  for (const file of list) {
    const content = searchable(job.root, file, job.maxFileBytes);
    if (content === undefined) continue;
    const shown = path.relative(job.root, file).split(path.sep).join('/');
    const lines = content.split('\n');
    const hits = [];
    for (let i = 0; i < lines.length; i++) if (regex.test(lines[i])) hits.push(i);
    if (hits.length === 0) continue;
    if (job.mode === 'files_with_matches') add(shown);
    else if (job.mode === 'count') add(`${shown}:${hits.length}`);
    else for (const i of hits) add(job.lineNumbers ? `${shown}:${i + 1}:${lines[i]}` : `${shown}:${lines[i]}`);
  }
  return { result: { entries, total }, transfer: [] };
}
