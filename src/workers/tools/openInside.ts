import { closeSync, constants, fstatSync, ftruncateSync, mkdirSync, openSync, readSync, writeSync, type Stats } from 'node:fs';
import path from 'node:path';
import { ToolExecutionError } from '../errors.ts';

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
          fd = openSync(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK, 0o644);
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

/** The content of an open file, at most `max` bytes (a file that grows while it is read stops there). */
export function readAll(fd: number, size: number, max: number): Buffer {
  const chunks: Buffer[] = [];
  let position = 0;
  while (position < max) {
    const chunk = Buffer.allocUnsafe(Math.min(max - position, Math.max(64 * 1024, size - position)));
    const n = readSync(fd, chunk, 0, chunk.length, position);
    if (n === 0) break;
    chunks.push(chunk.subarray(0, n));
    position += n;
  }
  return Buffer.concat(chunks);
}

/** Replaces the content of an open file (the fd the checks were made on, not its name again). */
export function replaceContent(fd: number, content: string): void {
  const bytes = Buffer.from(content, 'utf8');
  ftruncateSync(fd, 0);
  let written = 0;
  while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written, written);
}
