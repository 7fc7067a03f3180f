import { lstatSync, mkdirSync, readlinkSync, realpathSync, type Stats } from 'node:fs';
import path from 'node:path';
import { ToolExecutionError, WorkspaceEscapeError } from './errors.ts';

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

/** An absolute path with nothing to normalise (no `.`, `..`, `//` or trailing `/`), not `/`. */
const normalised = (p: string): boolean => p !== path.sep && path.isAbsolute(p) && path.normalize(p) === p && !p.endsWith(path.sep);

/**
 * Real paths of the folders that hold task folders (the workspace root, a
 * project's worktrees), taken once rather than on every run. They are the
 * operator's folders: no worker can reach them (its sandbox binds only its
 * task's folder, and the file tools stay below the task's folder); and
 * each use checks that the task's folder is the very folder found under
 * the parent's remembered real path. Bounded: a listener uses a handful.
 */
const realParents = new Map<string, string>();
const MAX_REAL_PARENTS = 64;

function rememberParent(parent: string, real: string): void {
  if (realParents.size >= MAX_REAL_PARENTS && !realParents.has(parent)) realParents.clear();
  realParents.set(parent, real);
}

/** Where a path leads: its real path, and what the walk there saw on the way. */
export interface Located {
  /** The real absolute path (symlinks followed), inside the root. */
  path: string;
  /** Stats of what is at `path` (never a link), or undefined when nothing is there. */
  stats: Stats | undefined;
  /** Whether the folder that would hold `path` exists. */
  parentExists: boolean;
}

/**
 * The folder one task's workers may touch. Every path a tool receives is
 * first checked lexically (`lexical`: no `..` out, no absolute path
 * elsewhere). The file tools then open it as given with O_NOFOLLOW at every
 * component (openDirect), which succeeds only when no link is on the way;
 * otherwise it goes through `locate`, which follows symlinks itself (also
 * dangling ones: a Write through a dangling link would create its target),
 * so a link cannot lead a write outside. Another worker of the task may swap
 * a folder for a link between this check and the use: the tools then open
 * the located path with openInside (O_NOFOLLOW at every component), which
 * fails instead of following the new link.
 *
 * @example
 * const ws = await Workspace.open('/var/orch/workspace/task-1');
 * const file = await ws.resolve('src/models/user.js');
 */
export class Workspace {
  private constructor(readonly root: string) {}

  /**
   * A task box's workspace, as the listener names it: `root` is the path
   * inside the box, and nothing on this machine is opened or made. Only the
   * path functions (`lexical`, `relative`) mean anything here; the tools use
   * the box's own Workspace, inside it.
   */
  static inBox(root: string): Workspace {
    return new Workspace(root);
  }

  /** Creates the folder when missing; `root` is its real path. */
  static async open(root: string): Promise<Workspace> {
    return Workspace.underKnownParent(root) ?? Workspace.openReal(root);
  }

  private static openReal(root: string): Workspace {
    let real: string;
    try {
      real = realpathSync.native(root);
    } catch (error) {
      if (!isMissing(error)) throw error;
      mkdirSync(root, { recursive: true });
      real = realpathSync.native(root);
    }
    // A folder (not a link) at a normalised path: its real parent is the real path's parent.
    if (normalised(root) && lstatSync(root, { throwIfNoEntry: false })?.isDirectory()) rememberParent(path.dirname(root), path.dirname(real));
    return new Workspace(real);
  }

  /**
   * The run's workspace without a realpath (a readlink per component):
   * when the folder holding it was seen before, the task's folder (created
   * when missing) and the same name under the parent's real path are
   * lstat'ed, and taken as the real path only when both are the same folder
   * (device and inode), neither a link. Anything else (a link, a file, a
   * parent never seen, moved or gone) is left to openReal.
   */
  private static underKnownParent(root: string): Workspace | undefined {
    if (!normalised(root)) return undefined;
    const parent = realParents.get(path.dirname(root));
    if (parent === undefined) return undefined;
    const inside = path.join(parent, path.basename(root));
    let stats = lstatSync(root, { throwIfNoEntry: false });
    if (stats === undefined) {
      try {
        mkdirSync(root);
      } catch {
        return undefined;
      }
      // Made just now at a path that is already real: nothing to compare.
      if (inside === root) return new Workspace(inside);
      stats = lstatSync(root, { throwIfNoEntry: false });
    }
    if (stats === undefined || !stats.isDirectory()) return undefined;
    const real = inside === root ? stats : lstatSync(inside, { throwIfNoEntry: false });
    if (real === undefined || !real.isDirectory() || real.ino !== stats.ino || real.dev !== stats.dev) return undefined;
    return new Workspace(inside);
  }

  /**
   * The real absolute path that `relOrAbs` (relative to the root, or
   * absolute) refers to, or WorkspaceEscapeError when it is outside.
   * The file itself need not exist.
   */
  async resolve(relOrAbs: string): Promise<string> {
    return this.locate(relOrAbs).path;
  }

  /**
   * `resolve`, and what the walk learnt on the way: whether something is
   * there (its stats) and whether its folder exists, so a tool needs no
   * second look.
   */
  locate(relOrAbs: string): Located {
    const located = this.followLinks(this.lexical(relOrAbs), relOrAbs);
    if (!isInside(this.root, located.path)) {
      throw new WorkspaceEscapeError(relOrAbs, this.root, `a symlink leads to ${located.path}`);
    }
    return located;
  }

  /**
   * The absolute path `relOrAbs` names before any link on it is followed
   * (`..` taken lexically, as `locate` takes it), or WorkspaceEscapeError
   * when that is outside the root. Where a link would lead is `locate`'s
   * question: with no link on the way, both give the same path.
   */
  lexical(relOrAbs: string): string {
    if (relOrAbs.includes('\0')) throw new WorkspaceEscapeError(relOrAbs, this.root, 'the path contains a NUL byte');
    const lexical = path.resolve(this.root, relOrAbs);
    if (!isInside(this.root, lexical)) {
      const why = path.isAbsolute(relOrAbs) ? 'an absolute path elsewhere' : 'it climbs out with ..';
      throw new WorkspaceEscapeError(relOrAbs, this.root, why);
    }
    return lexical;
  }

  /** Workspace-relative posix path of an absolute path inside the root (for logs and results). */
  relative(absolute: string): string {
    return path.relative(this.root, absolute).split(path.sep).join('/');
  }

  /**
   * Walks `absolute` component by component, replacing each symlink by its
   * target, as the kernel would; the missing tail is appended as is. The
   * walk starts at the root, whose real path `open` took: only the root
   * itself (a Bash command could have swapped it for a link) and what lies
   * below it are looked at, unless a link leads elsewhere.
   *
   * Synchronous on purpose: each lstat needs the answer of the one before,
   * and on a local disk one takes microseconds, against a thread-pool round
   * trip (~30 µs of CPU, more under load) for each awaited call.
   */
  private followLinks(absolute: string, requested: string): Located {
    const below = path.relative(this.root, absolute);
    const pending = [path.basename(this.root), ...below.split(path.sep).filter((part) => part !== '')];
    let current = path.dirname(this.root);
    let stats: Stats | undefined;
    /** Stats of `current` when the walk knows them (null after `..` or a link). */
    let known: Stats | null = null;
    let hops = 0;
    while (pending.length > 0) {
      const part = pending.shift()!;
      if (part === '.') continue;
      if (part === '..') {
        current = path.dirname(current);
        known = null;
        continue;
      }
      const next = path.join(current, part);
      try {
        stats = lstatSync(next, { throwIfNoEntry: false });
      } catch (error) {
        if (!isMissing(error)) throw error;
        stats = undefined;
      }
      if (stats === undefined) {
        // The missing tail is appended as is; its folder exists only when the tail is one name.
        const rest = pending.filter((p) => p !== '.');
        return { path: path.join(next, ...rest), stats: undefined, parentExists: rest.length === 0 };
      }
      if (!stats.isSymbolicLink()) {
        current = next;
        known = stats;
        continue;
      }
      known = null;
      if (++hops > MAX_SYMLINK_HOPS) {
        throw new WorkspaceEscapeError(requested, this.root, `more than ${MAX_SYMLINK_HOPS} symlinks (a loop?)`);
      }
      let target: string;
      try {
        target = readlinkSync(next);
      } catch (error) {
        // A link replaced (or removed) between the lstat and the readlink: another worker is changing this path.
        const code = (error as { code?: unknown }).code;
        if (code !== 'EINVAL' && !isMissing(error)) throw error;
        throw new ToolExecutionError(`${JSON.stringify(requested)} changed while it was being resolved (a link on its path was replaced): try again`);
      }
      if (path.isAbsolute(target)) current = path.parse(target).root;
      pending.unshift(...target.split(path.sep).filter((p) => p !== ''));
    }
    return { path: current, stats: known ?? lstatSync(current, { throwIfNoEntry: false }), parentExists: true };
  }
}
