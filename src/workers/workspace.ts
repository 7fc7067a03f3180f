import { lstat, mkdir, readlink, realpath } from 'node:fs/promises';
import path from 'node:path';
import { WorkspaceEscapeError } from './errors.ts';

/** Symlink hops allowed in one path, as the kernel's own ELOOP limit. */
const MAX_SYMLINK_HOPS = 40;

function isInside(root: string, candidate: string): boolean {
  const rel = path.relative(root, candidate);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

function isMissing(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/**
 * The folder one task's workers may touch. Every path a tool receives goes
 * through `resolve`, which follows symlinks itself (also dangling ones: a
 * Write through a dangling link would create its target), so a link cannot
 * lead a write outside. Tools run one at a time, so nothing swaps a
 * component for a link between the check and the use except the model's own
 * Bash command, whose effects the next resolve sees.
 *
 * @example
 * const ws = await Workspace.open('/var/orch/workspace/task-1');
 * const file = await ws.resolve('src/models/user.js');
 */
export class Workspace {
  private constructor(readonly root: string) {}

  /** Creates the folder when missing; `root` is its real path. */
  static async open(root: string): Promise<Workspace> {
    await mkdir(root, { recursive: true });
    return new Workspace(await realpath(root));
  }

  /**
   * The real absolute path that `relOrAbs` (relative to the root, or
   * absolute) refers to, or WorkspaceEscapeError when it is outside.
   * The file itself need not exist.
   */
  async resolve(relOrAbs: string): Promise<string> {
    if (relOrAbs.includes('\0')) throw new WorkspaceEscapeError(relOrAbs, this.root, 'the path contains a NUL byte');
    const lexical = path.resolve(this.root, relOrAbs);
    if (!isInside(this.root, lexical)) {
      const why = path.isAbsolute(relOrAbs) ? 'an absolute path elsewhere' : 'it climbs out with ..';
      throw new WorkspaceEscapeError(relOrAbs, this.root, why);
    }
    const real = await this.followLinks(lexical, relOrAbs);
    if (!isInside(this.root, real)) {
      throw new WorkspaceEscapeError(relOrAbs, this.root, `a symlink leads to ${real}`);
    }
    return real;
  }

  /** Workspace-relative posix path of an absolute path inside the root (for logs and results). */
  relative(absolute: string): string {
    return path.relative(this.root, absolute).split(path.sep).join('/');
  }

  /**
   * Walks `absolute` component by component from the filesystem root,
   * replacing each symlink by its target, as the kernel would; the missing
   * tail is appended as is.
   */
  private async followLinks(absolute: string, requested: string): Promise<string> {
    const pending = absolute.split(path.sep).filter((part) => part !== '');
    let current = path.parse(absolute).root;
    let hops = 0;
    while (pending.length > 0) {
      const part = pending.shift()!;
      if (part === '.') continue;
      if (part === '..') {
        current = path.dirname(current);
        continue;
      }
      const next = path.join(current, part);
      let isLink: boolean;
      try {
        isLink = (await lstat(next)).isSymbolicLink();
      } catch (error) {
        if (!isMissing(error)) throw error;
        return path.join(next, ...pending);
      }
      if (!isLink) {
        current = next;
        continue;
      }
      if (++hops > MAX_SYMLINK_HOPS) {
        throw new WorkspaceEscapeError(requested, this.root, `more than ${MAX_SYMLINK_HOPS} symlinks (a loop?)`);
      }
      const target = await readlink(next);
      if (path.isAbsolute(target)) current = path.parse(target).root;
      pending.unshift(...target.split(path.sep).filter((p) => p !== ''));
    }
    return current;
  }
}
