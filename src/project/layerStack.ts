import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, symlink, writeFile, chmod } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import type { Logger } from '../logger.ts';
import { gitLine } from '../git/git.ts';
import type { GitProject } from '../git/project.ts';
import { blobsAt, changedBetween, modesAt } from '../git/viewCommit.ts';
import { ProjectError } from '../git/projectError.ts';

export { DEFAULT_SNAPSHOT_EXCLUDE } from '../optionDefaults.ts';

/** Past this many layers the next start-up compacts (see docs/projects.md); overlayfs takes at most 500, and its options one page. */
export const MAX_LAYERS = 64;

/** One immutable folder of the lower view, and the commit the view stands at with it on top. */
export interface Layer {
  dir: string;
  commit: string;
}

/** The lower view a task's box is given: fixed for as long as the box lives. */
export interface StackView {
  /** Layer folders, top first (overlayfs `lowerdir` order). */
  lower: string[];
  /** The commit the view stands at (the task's base). */
  commit: string;
}

export interface LayerStack {
  /** The stack as it stands now. Layers are never changed or removed while the listener runs, so a view stays valid as long as a box holds it. */
  view(): StackView;
  /**
   * Brings the stack to the project branch's head when that moved on from
   * the top layer's commit (a merge, ours or anyone's): one thin layer of
   * what changed. A head that is not a descendant (history rewritten) is
   * logged and left for the next start-up's snapshot.
   */
  refresh(): Promise<StackView>;
  /** How the snapshot was made, and what it cost: for the start-up line and the benchmark. */
  readonly snapshot: { method: 'hardlink' | 'copy'; ms: number; excluded: number };
  /** Removes this listener's stack (once no box uses it: at stop, after the boxes closed). */
  close(): Promise<void>;
}

export interface LayerStackOptions {
  project: GitProject;
  /** Folder of the stacks: under the workspace, never under the project. */
  root: string;
  /** Basename globs left out of the snapshot. */
  exclude: readonly string[];
  /** Hard-link the snapshot (default SNAPSHOT_HARD_LINKS). */
  hardLinks?: boolean;
  logger: Logger;
}

function run(cmd: string, args: readonly string[], o: { cwd?: string; input?: string } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { cwd: o.cwd, maxBuffer: 256 * 1024 * 1024, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' } }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${cmd} ${args.slice(0, 4).join(' ')}…: ${String(stderr || error.message).trim()}`));
      else resolve(stdout);
    });
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(o.input ?? '');
  });
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Stacks under `root` whose listener is gone (killed: its stop never removed them). */
async function sweepStacks(root: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(root).catch(() => [] as string[])) {
    const dir = path.join(root, name);
    // `<host> <pid>`: a pid says nothing about a listener on another host sharing this workspace, whose stack stays.
    const [host, pidText] = (await readFile(path.join(dir, 'owner'), 'utf8').catch(() => '')).trim().split(' ');
    if (pidText !== undefined && host !== hostname()) continue;
    const pid = Number(pidText ?? host);
    if (Number.isInteger(pid) && pid > 0 && alive(pid)) continue;
    await removeTree(dir);
    removed.push(dir);
  }
  return removed;
}

/** rm -rf that also gets through the mode-000 `work` folders overlayfs leaves in its workdir. */
async function removeTree(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true }).catch(async () => {
    await run('chmod', ['-R', 'u+rwx', dir]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });
}

/**
 * Whether the snapshot hard-links the project's files. Hard links cost no
 * data (a box reads the project's own inodes and never writes them: overlayfs
 * copies a file up before it changes), but every file of the view then has
 * two links, and the box's file tools refuse such a file (its other name
 * could be outside the workspace), so Read, Write and Edit would fail on
 * every project file. Until the box's tools tell a lower-layer file (whose
 * other name is the project's own, and which a write copies up) from a link
 * a worker made, the snapshot copies, with reflinks where the file system
 * has them: once per listener start, never per task.
 */
export const SNAPSHOT_HARD_LINKS = false;

/**
 * A copy of the project folder as it is (tracked files, and the ignored,
 * installed ones: dependencies, build outputs), without `.git` and without
 * the `exclude`d names: hard links where SNAPSHOT_HARD_LINKS and the
 * folder shares the project's file system, else a copy (reflinks where the
 * file system has them).
 */
async function snapshot(project: string, into: string, exclude: readonly string[], links = SNAPSHOT_HARD_LINKS): Promise<LayerStack['snapshot']> {
  const started = performance.now();
  const top = (await readdir(project)).filter((n) => n !== '.git').map((n) => path.join(project, n));
  let method: 'hardlink' | 'copy' = links ? 'hardlink' : 'copy';
  await mkdir(into, { recursive: true });
  if (top.length > 0) {
    try {
      if (!links) throw new Error('copy');
      await run('cp', ['-al', '--', ...top, into]);
    } catch {
      // Another file system (EXDEV), or files the kernel will not let this user link (protected_hardlinks).
      method = 'copy';
      await removeTree(into);
      await mkdir(into, { recursive: true });
      await run('cp', ['-a', '--reflink=auto', '--', ...top, into]);
    }
  }
  const names = ['.git', ...exclude].flatMap((n, i) => (i === 0 ? ['-name', n] : ['-o', '-name', n]));
  const found = (await run('find', [into, '-mindepth', '1', '(', ...names, ')', '-prune', '-print0'])).split('\0').filter(Boolean);
  for (const p of found) await rm(p, { recursive: true, force: true });
  return { method, ms: Math.round(performance.now() - started), excluded: found.length };
}

const ancestors = (p: string): string[] => p.split('/').slice(0, -1).map((_, i, a) => a.slice(0, i + 1).join('/'));

/** A basename glob (`*`, `?`) as a test on a path: true when any of its names matches. */
export function excludedBy(globs: readonly string[]): (p: string) => boolean {
  const res = ['.git', ...globs].map((g) => new RegExp(`^${g.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`));
  return (p) => p.split('/').some((name) => res.some((re) => re.test(name)));
}

/** Overlay mount options take `:` and `,` as separators: a stack folder may hold neither. */
const mountable = (p: string): boolean => !/[:,\\\s]/.test(p);

/**
 * Writes one thin layer: the files git says changed from the stack's top
 * commit to `to`, contents from git's objects, deletions as overlay
 * whiteouts. The layer is written through an overlay mount of the stack in
 * a user and mount namespace of its own (`unshare -rm`), so that the
 * kernel makes the whiteouts (a 0:0 character device, which an unprivileged
 * user could not make) and the mount dies with that namespace.
 */
async function writeLayer(project: GitProject, stackDir: string, lower: readonly Layer[], from: string, to: string, n: number, excluded: (p: string) => boolean): Promise<Layer> {
  // What the snapshot leaves out (secrets) stays out of every layer, committed or not.
  const changed = (await changedBetween(project, from, to)).filter((c) => !excluded(c.path));
  const dir = path.join(stackDir, String(n));
  const stage = path.join(stackDir, `stage-${n}`);
  const work = path.join(stackDir, `work-${n}`);
  const mnt = path.join(stackDir, `mnt-${n}`);
  await Promise.all([dir, stage, work, mnt].map((d) => mkdir(d, { recursive: true })));
  try {
    const written = changed.filter((c) => c.change !== 'deleted').map((c) => c.path);
    const deleted = changed.filter((c) => c.change === 'deleted').map((c) => c.path);
    const modes = await modesAt(project, to, written);
    for (let i = 0; i < written.length; i += 500) {
      const chunk = written.slice(i, i + 500);
      const blobs = await blobsAt(project, to, chunk);
      for (const [k, p] of chunk.entries()) {
        const at = path.join(stage, p);
        await mkdir(path.dirname(at), { recursive: true });
        const mode = modes.get(p);
        if (mode === '120000') await symlink(blobs[k]!.toString(), at);
        else if (mode === '100644' || mode === '100755') await writeFile(at, blobs[k]!, { mode: mode === '100755' ? 0o755 : 0o644 });
      }
    }
    // Folders a deletion emptied go too, as git's checkout removes them, but not one the same change writes into.
    // Deepest first, one by one (not `rmdir -p`, which would also take a folder that is only empty until the change is written).
    const keep = new Set(written.flatMap(ancestors));
    const emptied = [...new Set(deleted.flatMap(ancestors))].filter((d) => !keep.has(d)).sort((a, b) => b.split('/').length - a.split('/').length);
    await writeFile(path.join(stackDir, `deleted-${n}`), [...deleted, ...written].map((p) => `${p}\0`).join(''));
    await writeFile(path.join(stackDir, `emptied-${n}`), emptied.map((p) => `${p}\0`).join(''));
    const lowerdir = lower.map((l) => l.dir).reverse().join(':');
    const script = [
      'set -e',
      `mount -t overlay overlay -o "userxattr,lowerdir=${lowerdir},upperdir=$1,workdir=$2" "$3"`,
      'cd "$3"',
      // Deleted and rewritten paths go first (a file that became a folder, or the reverse, makes room).
      'xargs -0 -r rm -rf -- < "$4"',
      'xargs -0 -r rmdir --ignore-fail-on-non-empty -- < "$5" 2>/dev/null || true',
      'cp -a "$6/." "$3/"',
      'cd /',
      'umount "$3"',
      'rm -rf "$2"',
    ].join('\n');
    await run('unshare', ['-rm', 'sh', '-c', script, 'layer', dir, work, mnt, path.join(stackDir, `deleted-${n}`), path.join(stackDir, `emptied-${n}`), stage]);
    return { dir, commit: to };
  } catch (error) {
    await removeTree(dir);
    throw error;
  } finally {
    await Promise.all([stage, work, mnt, path.join(stackDir, `deleted-${n}`), path.join(stackDir, `emptied-${n}`)].map((d) => removeTree(d)));
  }
}

/**
 * The lower view of box mode: a snapshot of the project folder taken at
 * start-up, then one thin immutable layer per move of the project branch,
 * each recording the commit it brings the view to. Nothing in it is ever
 * changed in place, so a box keeps the stack it was started on while the
 * next tasks get a newer one (docs/projects.md, "What happens in box mode").
 */
export async function openLayerStack(o: LayerStackOptions): Promise<LayerStack> {
  const { project, logger } = o;
  await mkdir(o.root, { recursive: true });
  const swept = await sweepStacks(o.root);
  if (swept.length > 0) logger.info({ removed: swept }, 'removed the layer stacks of listeners that are gone');
  const stackDir = path.join(o.root, `${process.pid}-${randomBytes(3).toString('hex')}`);
  if (!mountable(stackDir)) {
    throw new ProjectError(`--workspace ${o.root}: box mode stacks layers under it with overlayfs, whose options cannot hold ':', ',', '\\' or spaces in a path; pass a --workspace without them`);
  }
  await mkdir(stackDir);
  await writeFile(path.join(stackDir, 'owner'), `${hostname()} ${process.pid}\n`);
  // The snapshot stands for the branch head: what the project folder holds besides (uncommitted edits) shows through too.
  const head = await gitLine(['rev-parse', '--verify', `refs/heads/${project.branch}^{commit}`], { cwd: project.root });
  const base = path.join(stackDir, '0');
  const made = await snapshot(project.root, base, o.exclude, o.hardLinks).catch(async (error: unknown) => {
    await removeTree(stackDir);
    throw error;
  });
  await chmod(stackDir, 0o755);
  const layers: Layer[] = [{ dir: base, commit: head }];
  const excluded = excludedBy(o.exclude);
  let chain: Promise<unknown> = Promise.resolve();
  const view = (): StackView => ({ lower: layers.map((l) => l.dir).reverse(), commit: layers.at(-1)!.commit });

  const refresh = (): Promise<StackView> => {
    const next = chain.then(async () => {
      const top = layers.at(-1)!;
      const now = await gitLine(['rev-parse', '--verify', `refs/heads/${project.branch}^{commit}`], { cwd: project.root });
      if (now === top.commit) return view();
      const descends = await gitLine(['rev-list', '--count', `${now}..${top.commit}`], { cwd: project.root });
      if (descends !== '0') {
        logger.warn({ branch: project.branch, from: top.commit, to: now }, "the project branch no longer holds the box view's commit (history rewritten): new tasks keep the current view until the next start-up's snapshot");
        return view();
      }
      if (layers.length >= MAX_LAYERS) {
        logger.warn({ layers: layers.length }, 'the box view has as many layers as it may: new tasks stay on it until the next start-up takes a fresh snapshot');
        return view();
      }
      const started = performance.now();
      const layer = await writeLayer(project, stackDir, layers, top.commit, now, layers.length, excluded);
      layers.push(layer);
      logger.info({ commit: now, layers: layers.length, ms: Math.round(performance.now() - started) }, 'the box view moved on with the project branch: one layer of what changed');
      return view();
    });
    chain = next.catch(() => undefined);
    return next;
  };

  return {
    view,
    refresh,
    snapshot: made,
    close: async () => {
      await chain.catch(() => undefined);
      await removeTree(stackDir);
    },
  };
}
