import { closeSync, constants, fstatSync, ftruncateSync, lstatSync, mkdirSync, openSync, readSync, writeSync, type Stats } from 'node:fs';
import path from 'node:path';
import { ToolExecutionError } from '../errors.ts';
import type { Workspace } from '../workspace.ts';
import { checkFile } from './fileStat.ts';

const { O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_EXCL, O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK } = constants;

export type OpenMode = 'read' | 'write' | 'edit';

export interface OpenedFile {
  fd: number;
  stats: Stats;
  /** Write only: the file did not exist and was created by this open. */
  created: boolean;
}

/** What a non-regular file is, for the message. */
function kind(stats: Stats): string {
  if (stats.isFIFO()) return 'a FIFO';
  if (stats.isSocket()) return 'a socket';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'a device';
  if (stats.isDirectory()) return 'a directory';
  if (stats.isSymbolicLink()) return 'a symbolic link';
  return 'not a regular file';
}

/**
 * Refuses what the file tools never touch: anything but a regular file
 * (a FIFO would block the event loop on open or read), and a file with
 * more than one hard link (its other name may be outside the workspace).
 */
export function checkRegular(stats: Stats, shown: string): void {
  if (!stats.isFile()) {
    throw new ToolExecutionError(`${shown} is ${kind(stats)}: the file tools only read and write regular files`);
  }
  if (stats.nlink > 1) {
    throw new ToolExecutionError(
      `${shown} has ${stats.nlink} hard links: one of its other names may be outside the workspace, so the file tools leave it alone. Copy it to a new file (cp) and work on the copy`,
    );
  }
}

function opened(error: unknown, shown: string): never {
  const code = (error as { code?: unknown }).code;
  if (code === 'ELOOP' || code === 'ENOTDIR') {
    throw new ToolExecutionError(`${shown} changed while it was being opened (a folder on its path was replaced by a link or a file): try again`);
  }
  if (code === 'ENXIO') throw new ToolExecutionError(`${shown} is a FIFO or socket: the file tools only read and write regular files`);
  if (code === 'ENOENT') throw new ToolExecutionError(`${shown} does not exist (or was removed while it was being opened)`);
  throw error;
}

/** The entry `name` of the open folder `dirFd`: /proc/self/fd/N is the folder itself, never its path looked up again. */
const at = (dirFd: number, name: string): string => `/proc/self/fd/${dirFd}/${name}`;

/**
 * Opens `relative` (a path below `root` with no links in it, as
 * Workspace.locate returns it) without trusting any name on the way: each
 * folder is opened relative to the one before with O_NOFOLLOW, as openat
 * would, so a folder swapped for a symlink between the check and the use
 * fails the open instead of leading it outside. The file itself is opened
 * with O_NOFOLLOW | O_NONBLOCK (a FIFO cannot block) and checked with fstat
 * after the open. Write never truncates on open: a hard-linked file is
 * refused before a byte of it changes. Linux (it needs /proc).
 *
 * Synchronous, like the rest of the file tools: a handful of local
 * syscalls, none of which can block on a regular file or a folder.
 */
export function openInside(root: string, relative: string, mode: OpenMode, shown: string): OpenedFile {
  const parts = relative.split(path.sep).filter((p) => p !== '' && p !== '.');
  const name = parts.pop();
  if (name === undefined || parts.includes('..') || name === '..') {
    throw new ToolExecutionError(`${shown} is not a file path inside the workspace`);
  }
  let dir: number;
  try {
    dir = openSync(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  } catch (error) {
    opened(error, shown);
  }
  try {
    for (const part of parts) {
      let next: number;
      try {
        next = openSync(at(dir, part), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
      } catch (error) {
        if ((error as { code?: unknown }).code !== 'ENOENT' || mode !== 'write') opened(error, shown);
        try {
          mkdirSync(at(dir, part));
        } catch (made) {
          if ((made as { code?: unknown }).code !== 'EEXIST') throw made;
        }
        try {
          next = openSync(at(dir, part), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
        } catch (again) {
          opened(again, shown);
        }
      }
      closeSync(dir);
      dir = next;
    }
    const file = at(dir, name);
    let fd: number;
    let created = false;
    try {
      if (mode === 'write') {
        try {
          // 0o666 less the umask; under the default ACL of a `uid` box's folder, the umask is ignored and the box uid may write it too.
          fd = openSync(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK, 0o666);
          created = true;
        } catch (error) {
          if ((error as { code?: unknown }).code !== 'EEXIST') throw error;
          fd = openSync(file, O_WRONLY | O_NOFOLLOW | O_NONBLOCK);
        }
      } else {
        fd = openSync(file, (mode === 'edit' ? O_RDWR : O_RDONLY) | O_NOFOLLOW | O_NONBLOCK);
      }
    } catch (error) {
      opened(error, shown);
    }
    const stats = fstatSync(fd);
    try {
      checkRegular(stats, shown);
    } catch (error) {
      closeSync(fd);
      throw error;
    }
    return { fd, stats, created };
  } finally {
    closeSync(dir);
  }
}

/**
 * The content of an open file of `size` bytes (its fstat), at most `max`
 * bytes (a file that grows while it is read stops there). The first read
 * asks for one byte more than `size`: a short answer at or past `size` is
 * the end of the file, so a file that did not change is read with one
 * read into one buffer of its own size.
 */
export function readAll(fd: number, size: number, max: number): Buffer {
  const chunks: Buffer[] = [];
  let position = 0;
  let want = size + 1;
  while (position < max) {
    const chunk = Buffer.allocUnsafe(Math.min(max - position, want));
    const n = readSync(fd, chunk, 0, chunk.length, position);
    if (n === 0) break;
    chunks.push(chunk.subarray(0, n));
    position += n;
    if (n < chunk.length && position >= size) break;
    want = Math.max(64 * 1024, size - position);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

/**
 * Replaces the content of an open file (the fd the checks were made on, not
 * its name again). `created`: this open created the file (O_EXCL), so it is
 * empty and there is nothing to truncate.
 */
export function replaceContent(fd: number, content: string, created = false): void {
  const bytes = Buffer.from(content, 'utf8');
  if (!created) ftruncateSync(fd, 0);
  let written = 0;
  while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written, written);
}

const DIRECTORY = O_RDONLY | O_DIRECTORY | O_NOFOLLOW;

const codeOf = (error: unknown): unknown => (error as { code?: unknown }).code;

/** Why a Write cannot go to a folder, for both ways of opening. */
function writeToDirectory(shown: string): never {
  throw new ToolExecutionError(`${shown} is a directory: write to a file inside it`);
}

/**
 * openSync, with the error code instead of a throw for the failures
 * openDirect expects and handles itself (a missing folder, an existing
 * file): building an Error's stack costs more than the system call, so none
 * is captured.
 */
function tryOpen(file: string, flags: number, mode?: number): number | string {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return openSync(file, flags, mode);
  } catch (error) {
    return String(codeOf(error));
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** An open file of the workspace and its size when opened (0 for one this open created). */
export interface SizedFile {
  fd: number;
  size: number;
  /** Write only: the file did not exist and was created by this open. */
  created: boolean;
}

/** fstat of an existing file just opened, checked (and closed when refused). */
function checkedOpen(fd: number, shown: string): SizedFile {
  let stats: Stats;
  try {
    stats = fstatSync(fd);
    checkRegular(stats, shown);
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  return { fd, size: stats.size, created: false };
}

/**
 * openInside for a path straight from the model, before any look at the
 * disk: the common case of a path with no symbolic link on it, with the
 * same checks and messages as locate + openInside, in half the system
 * calls. Each folder is opened with O_NOFOLLOW relative to the one before
 * (created for a Write when missing); a new file is created with
 * O_CREAT | O_EXCL, which opens nothing that exists (no FIFO, device or
 * link) and makes a regular file with one link, so it needs no fstat; an
 * existing one is lstat'ed through its folder's fd and refused
 * unless it is a regular file with one link before it is opened, and
 * fstat'ed after. Returns undefined when it meets anything else on the way
 * (a link, a file where a folder should be, a name that changed between two
 * calls, an error it does not explain): the caller then takes the long way,
 * Workspace.locate and openInside, whose answer is the answer.
 */
export function openDirect(root: string, relative: string, mode: OpenMode, shown: string): SizedFile | undefined {
  const parts = relative.split(path.sep).filter((p) => p !== '' && p !== '.');
  const name = parts.pop();
  if (name === undefined || name === '..' || parts.includes('..')) return undefined;
  let dir: number;
  try {
    dir = openSync(root, DIRECTORY);
  } catch {
    return undefined;
  }
  try {
    // Below a folder this call created, nothing can be there yet: mkdir without trying to open first.
    let created = false;
    for (const part of parts) {
      let next = created ? 'ENOENT' : tryOpen(at(dir, part), DIRECTORY);
      if (next === 'ENOENT') {
        if (mode !== 'write') checkFile(undefined, shown); // throws: nothing is there
        try {
          mkdirSync(at(dir, part));
          created = true;
        } catch (made) {
          if (codeOf(made) !== 'EEXIST') throw made;
        }
        next = tryOpen(at(dir, part), DIRECTORY);
      }
      if (typeof next !== 'number') return undefined; // a link, a file, no access: the long way says which
      closeSync(dir);
      dir = next;
    }
    const file = at(dir, name);
    if (mode === 'write') {
      // O_CREAT | O_EXCL made a new, empty regular file with one link: there is nothing for fstat to refuse.
      const fd = tryOpen(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK, 0o666);
      if (typeof fd === 'number') return { fd, size: 0, created: true };
      if (fd !== 'EEXIST') return undefined;
    }
    // Something is there: what it is decides, before it is opened.
    let before: Stats | undefined;
    try {
      before = lstatSync(file, { throwIfNoEntry: false });
    } catch {
      return undefined;
    }
    if (before === undefined && mode === 'write') return undefined; // removed since the O_EXCL open: start again the long way
    if (before?.isSymbolicLink()) return undefined; // where it leads is locate's question
    if (mode === 'write' && before?.isDirectory()) writeToDirectory(shown);
    // Nothing there (Read, Edit), a folder, a FIFO, a device or a hard link is refused before it is opened.
    checkRegular(checkFile(before, shown), shown);
    let fd: number;
    try {
      fd = openSync(file, (mode === 'read' ? O_RDONLY : mode === 'edit' ? O_RDWR : O_WRONLY) | O_NOFOLLOW | O_NONBLOCK);
    } catch (error) {
      opened(error, shown);
    }
    return checkedOpen(fd, shown);
  } finally {
    closeSync(dir);
  }
}

/** A file a tool opened: the fd and its size, where it is, and how to show it. */
export interface WorkspaceFile extends SizedFile {
  /** Its real absolute path, inside the root. */
  absolute: string;
  /** Workspace-relative, for messages. */
  shown: string;
}

/**
 * Opens the file a tool was given, confined to the workspace: directly
 * when no link is on its path (openDirect), else the long way (locate
 * follows links inside the root and refuses the rest, then openInside opens
 * the real path with O_NOFOLLOW at every component). Read and Edit need an
 * existing regular file; Write creates a missing one with its folders.
 */
export function openInWorkspace(workspace: Workspace, filePath: string, mode: OpenMode): WorkspaceFile {
  const lexical = workspace.lexical(filePath);
  const shown = workspace.relative(lexical);
  const direct = openDirect(workspace.root, path.relative(workspace.root, lexical), mode, shown);
  if (direct !== undefined) return { fd: direct.fd, size: direct.size, created: direct.created, absolute: lexical, shown };
  const { path: absolute, stats } = workspace.locate(filePath);
  const real = workspace.relative(absolute);
  if (mode === 'write') {
    if (stats?.isDirectory()) writeToDirectory(real);
    if (stats !== undefined) checkRegular(stats, real); // a FIFO or a hard link is refused before it is opened
  } else {
    checkRegular(checkFile(stats, real), real); // a FIFO is refused before it is opened
  }
  const { fd, stats: after, created } = openInside(workspace.root, path.relative(workspace.root, absolute), mode, real);
  return { fd, size: after.size, created, absolute, shown: real };
}
