import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { BoxFile, TaskBox } from '../workers/box/types.ts';
import { git, gitBytes, type GitIdentity, type GitOptions } from './git.ts';
import type { GitProject } from './project.ts';
import type { CommitOutcome } from './worktree.ts';

/** What one commit changed, as git sees it (`diff-tree` of its parent and itself). */
export interface ChangedPath {
  path: string;
  change: 'created' | 'modified' | 'deleted';
}

export interface ViewCommitOutcome extends CommitOutcome {
  /** The paths the commit changed against its parent: what the worker's files lists should say. */
  changed: ChangedPath[];
}

export interface ViewCommitOptions {
  /** The task branch (`refs/heads/...`): it must exist; it moves only from the head read here. */
  ref: string;
  /** Paths the worker's change log names as created or modified. */
  written: readonly string[];
  /** Paths it names as deleted (the tools' record and the model's own claim alike). */
  deleted: readonly string[];
  message: string;
  identity: GitIdentity;
  /** A folder of the orchestrator's (not the project, not the box) for the blobs' bytes and the ignore rules' scratch tree. */
  scratch: string;
}

/** A path as the tools record it: relative, posix, no `.`/`..`/empty segment. */
const wellFormed = (p: string): boolean =>
  p !== '' && !p.startsWith('/') && !p.includes('\0') && !p.includes('\n') && p.split('/').every((s) => s !== '' && s !== '.' && s !== '..');

/** A name git (on this or another file system) would take for a repository's own folder: `.git`, `.GIT`, `.git.`, `git~1`. */
export const isGitName = (segment: string): boolean => /^\.git[. ]*$/i.test(segment) || /^git~\d+$/i.test(segment);

const listed = (paths: readonly string[], max = 5): string =>
  paths.slice(0, max).join(', ') + (paths.length > max ? ` and ${paths.length - max} more` : '');

const parentsOf = (p: string): string[] => {
  const parts = p.split('/');
  return parts.slice(1).map((_, i) => parts.slice(0, i + 1).join('/'));
};

/** git on the project's shared folder as a bare repository: objects, refs and our own index only, never a work tree. */
export function bareGit(project: Pick<GitProject, 'commonDir'>, args: readonly string[], o: Omit<GitOptions, 'cwd' | 'bare'> = {}) {
  return git(['--git-dir', project.commonDir, '-c', 'core.bare=true', ...args], { ...o, cwd: project.commonDir, bare: true });
}

const BATCH = 500;

/** Tracked entries at `commit` among `paths`: path → mode (`040000` for a folder). */
export async function modesAt(project: Pick<GitProject, 'commonDir'>, commit: string, paths: readonly string[]): Promise<Map<string, string>> {
  const modes = new Map<string, string>();
  for (let i = 0; i < paths.length; i += BATCH) {
    const out = await bareGit(project, ['--literal-pathspecs', 'ls-tree', '-z', '--full-tree', commit, '--', ...paths.slice(i, i + BATCH)]);
    for (const entry of out.stdout.split('\0')) {
      const tab = entry.indexOf('\t');
      if (tab > 0) modes.set(entry.slice(tab + 1), entry.slice(0, entry.indexOf(' ')));
    }
  }
  return modes;
}

/** `git diff-tree` of two commits: every path that differs, created, modified or deleted. */
export async function changedBetween(project: Pick<GitProject, 'commonDir'>, from: string, to: string): Promise<ChangedPath[]> {
  const out = await bareGit(project, ['diff-tree', '-r', '-z', '--no-renames', '--name-status', from, to]);
  const fields = out.stdout.split('\0');
  const changed: ChangedPath[] = [];
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const status = fields[i]!;
    const p = fields[i + 1]!;
    if (status === '') break;
    changed.push({ path: p, change: status.startsWith('A') ? 'created' : status.startsWith('D') ? 'deleted' : 'modified' });
  }
  return changed;
}

/**
 * The paths among `candidates` the project's ignore rules leave out (`.gitignore`
 * files of the view along their folders, the repository's `info/exclude`),
 * asked of `git check-ignore --no-index` over a scratch tree that holds only
 * those `.gitignore` files: the view itself is read inside the box.
 */
async function ignoredOf(project: GitProject, view: Pick<TaskBox, 'read'>, candidates: readonly string[], scratch: string): Promise<Set<string>> {
  if (candidates.length === 0) return new Set();
  const folders = new Set<string>(['']);
  for (const p of candidates) for (const f of parentsOf(p)) folders.add(f);
  const rules = (await view.read([...folders].map((f) => (f === '' ? '.gitignore' : `${f}/.gitignore`)))).filter((f) => f.kind === 'file' && f.content);
  const tree = path.join(scratch, `ignore-${randomBytes(6).toString('hex')}`);
  try {
    await mkdir(tree, { recursive: true });
    for (const rule of rules) {
      const at = path.join(tree, rule.path);
      await mkdir(path.dirname(at), { recursive: true });
      await writeFile(at, rule.content!);
    }
    // `./` keeps a name that starts with `:` from being read as pathspec magic (check-ignore takes no --literal-pathspecs).
    const out = await git(['--git-dir', project.commonDir, '--work-tree', tree, 'check-ignore', '--no-index', '-z', '--stdin'], {
      cwd: tree,
      input: candidates.map((p) => `./${p}\0`).join(''),
      okCodes: [1],
    });
    return new Set(out.stdout.split('\0').filter(Boolean).map((p) => p.replace(/^\.\//, '')));
  } finally {
    await rm(tree, { recursive: true, force: true });
  }
}

/**
 * Writes `contents` as blobs, exactly as given (`hash-object -w --no-filters`:
 * no clean filter or eol conversion), with one git process for them all: the
 * bytes (already read inside the box) go through files of our own scratch
 * folder, which no worker can reach. Returns their ids in order.
 */
async function writeBlobs(project: GitProject, contents: readonly Buffer[], scratch: string): Promise<string[]> {
  if (contents.length === 0) return [];
  const dir = path.join(scratch, `blobs-${randomBytes(6).toString('hex')}`);
  await mkdir(dir, { recursive: true });
  try {
    const files = contents.map((_, i) => path.join(dir, String(i)));
    await Promise.all(contents.map((c, i) => writeFile(files[i]!, c)));
    const out = await bareGit(project, ['hash-object', '-w', '--no-filters', '--stdin-paths'], { input: files.map((f) => `${f}\n`).join('') });
    const ids = out.stdout.split('\n').filter(Boolean);
    if (ids.length !== contents.length) throw new Error(`git hash-object wrote ${ids.length} blobs of ${contents.length}`);
    return ids;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * One worker's commit on the task branch, made from the task's view with
 * git plumbing only, at a cost that grows with the changes and not with the
 * project: each path of the worker's change log read through the box
 * (`view.read`: the listener never opens a worker's file) and written with
 * `hash-object -w --stdin-paths --no-filters` (symlinks as 120000 blobs of
 * their target, executables 100755), the changed folders of the branch
 * head's tree rebuilt with `mktree` (see treeWith: no index of the whole
 * project, whose reading and writing grew with it), then `commit-tree` and
 * `update-ref` from the head it read. git runs on the
 * shared folder as a bare repository, so no filter, hook or attribute of the
 * task's tree is ever consulted. Left out, each with an issue (the commit
 * still happens): any path with a `.git` component, anything inside a
 * folder holding `HEAD`, `objects` and `refs` (a repository a worker made),
 * anything neither a file nor a symlink, and a deletion of what was not a
 * tracked file or is still there. Untracked files the project's ignore
 * rules leave out (dependencies, caches a test run wrote) are skipped
 * silently, as `git add` would. A worker that changed nothing still gets its
 * (empty) commit. Callers serialise commits per branch.
 */
export async function commitView(project: GitProject, view: Pick<TaskBox, 'read'>, o: ViewCommitOptions): Promise<ViewCommitOutcome> {
  const issues: string[] = [];
  const parent = (await bareGit(project, ['rev-parse', '--verify', `${o.ref}^{commit}`])).stdout.trim();
  const asked = [...new Set([...o.written, ...o.deleted])].filter(wellFormed);
  const gitPaths = asked.filter((p) => p.split('/').some(isGitName));
  const rest = asked.filter((p) => !gitPaths.includes(p));

  // A folder holding HEAD, objects and refs is what git itself takes for a repository.
  const folders = [...new Set(rest.flatMap(parentsOf))];
  const marks = folders.length > 0 ? await view.read(folders.flatMap((f) => ['HEAD', 'objects', 'refs'].map((n) => `${f}/${n}`))) : [];
  const present = new Set(marks.filter((m) => m.kind !== 'absent').map((m) => m.path));
  const repos = folders.filter((f) => ['HEAD', 'objects', 'refs'].every((n) => present.has(`${f}/${n}`)));
  const inRepo = (p: string) => repos.find((r) => p.startsWith(`${r}/`));
  const byRepo = new Map<string, string[]>();
  for (const p of gitPaths) {
    const i = p.split('/').findIndex(isGitName);
    const repo = p.split('/').slice(0, i + 1).join('/');
    byRepo.set(repo, [...(byRepo.get(repo) ?? []), p]);
  }
  const paths: string[] = [];
  for (const p of rest) {
    const repo = inRepo(p);
    if (repo === undefined) paths.push(p);
    else byRepo.set(repo, [...(byRepo.get(repo) ?? []), p]);
  }
  for (const [repo, inside] of byRepo) {
    issues.push(
      `${repo} is a git repository inside the project (${isGitName(repo.split('/').at(-1)!) ? 'a .git entry' : 'HEAD, objects/ and refs/'}): ` +
        `its ${inside.length} file(s) (${listed(inside)}) were left out of the commit, since its config would run for whoever runs git there`,
    );
  }

  const files = paths.length > 0 ? await view.read(paths) : [];
  const state = new Map<string, BoxFile>(files.map((f) => [f.path, f]));
  const tracked = await modesAt(project, parent, paths);
  const isTrackedFile = (p: string) => ['100644', '100755', '120000'].includes(tracked.get(p) ?? '');
  const deletedAsked = new Set(o.deleted);
  const writes: BoxFile[] = [];
  const removals: string[] = [];
  const ignoredDeletions: string[] = [];
  for (const p of paths) {
    const f = state.get(p) ?? { path: p, kind: 'absent' };
    if (f.kind === 'file' || f.kind === 'symlink') {
      if (deletedAsked.has(p) && !o.written.includes(p)) ignoredDeletions.push(`${p} (still in the view)`);
      else writes.push(f);
    } else if (isTrackedFile(p)) {
      removals.push(p); // gone, or a folder now: the file it was is deleted
    } else if (f.kind === 'other' && o.written.includes(p)) {
      issues.push(`${p} is neither a file nor a symlink (a folder, fifo, socket or device): not committed`);
    } else if (deletedAsked.has(p)) {
      ignoredDeletions.push(`${p} (not a tracked file at ${parent.slice(0, 12)})`);
    }
  }
  if (ignoredDeletions.length > 0) issues.push(`deletions ignored: ${listed(ignoredDeletions, 10)}`);

  const skip = await ignoredOf(project, view, writes.filter((f) => !tracked.has(f.path)).map((f) => f.path), o.scratch);
  const kept = writes.filter((f) => !skip.has(f.path));
  await mkdir(o.scratch, { recursive: true });
  const blobs = await writeBlobs(project, kept.map((f) => (f.kind === 'symlink' ? Buffer.from(f.target ?? '') : (f.content ?? Buffer.alloc(0)))), o.scratch);
  const changes = new Map<string, TreeEntry | null>(removals.map((p) => [p, null]));
  kept.forEach((f, i) => changes.set(f.path, { mode: f.kind === 'symlink' ? '120000' : f.executable ? '100755' : '100644', id: blobs[i]! }));
  const tree = await treeWith(project, parent, changes);
  const commit = (await bareGit(project, ['commit-tree', tree, '-p', parent, '-F', '-'], { identity: o.identity, input: o.message })).stdout.trim();
  await bareGit(project, ['update-ref', '-m', 'backend-orchestrator: worker commit', o.ref, commit, parent]);
  // One diff-tree for both views of the change: as a list, and as the three sorted lists of the result.
  const changed = await changedBetween(project, parent, commit);
  const of = (change: ChangedPath['change']) => changed.filter((c) => c.change === change).map((c) => c.path).sort();
  return { commit, issues, changed, files: { created: of('created'), modified: of('modified'), deleted: of('deleted') } };
}

/** One entry of a git tree: its mode as `ls-tree` prints it and its object id. */
export interface TreeEntry {
  mode: string;
  id: string;
}

const dirOf = (p: string): string => (p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '');
const nameOf = (p: string): string => p.slice(p.lastIndexOf('/') + 1);
const typeOf = (mode: string): string => (mode === '040000' ? 'tree' : mode === '160000' ? 'commit' : 'blob');

/**
 * The entries of each folder of `commit` in `dirs` (one `cat-file --batch`
 * for them all): name → entry. A folder that is not one at `commit` (absent,
 * or a file there) has none.
 */
async function foldersAt(project: Pick<GitProject, 'commonDir'>, commit: string, dirs: readonly string[]): Promise<Map<string, Map<string, TreeEntry>>> {
  const out = await gitBytes(['--git-dir', project.commonDir, '-c', 'core.bare=true', 'cat-file', '--batch'], {
    cwd: project.commonDir,
    bare: true,
    input: dirs.map((d) => (d === '' ? `${commit}^{tree}\n` : `${commit}:${d}\n`)).join(''),
  });
  const idBytes = commit.length / 2;
  const folders = new Map<string, Map<string, TreeEntry>>();
  let at = 0;
  for (const d of dirs) {
    const eol = out.indexOf(0x0a, at);
    const header = out.subarray(at, eol).toString().split(' ');
    const entries = new Map<string, TreeEntry>();
    folders.set(d, entries);
    if (header.at(-1) === 'missing') {
      at = eol + 1;
      continue;
    }
    const size = Number(header[2]);
    const body = out.subarray(eol + 1, eol + 1 + size);
    at = eol + 1 + size + 1;
    if (header[1] !== 'tree') continue;
    for (let i = 0; i < body.length; ) {
      const space = body.indexOf(0x20, i);
      const nul = body.indexOf(0, space);
      const mode = body.subarray(i, space).toString().padStart(6, '0');
      entries.set(body.subarray(space + 1, nul).toString(), { mode, id: body.subarray(nul + 1, nul + 1 + idBytes).toString('hex') });
      i = nul + 1 + idBytes;
    }
  }
  return folders;
}

/**
 * The tree of `commit` with `changes` applied (path → its new file entry, or
 * null for a deletion), built with `git mktree` for the changed folders and
 * their parents only: the rest of the tree is reused by id, so the cost
 * grows with the changes and their depth, never with the project (no index
 * of the whole tree is read or written). A file written where a folder was
 * replaces it, and a file under what was a file replaces that file, as
 * `update-index --replace` would; a folder left empty disappears.
 */
export async function treeWith(project: Pick<GitProject, 'commonDir'>, commit: string, changes: ReadonlyMap<string, TreeEntry | null>): Promise<string> {
  // cat-file --batch reads one path a line: a path with a newline would be read as two.
  const bad = [...changes.keys()].find((p) => !wellFormed(p));
  if (bad !== undefined) throw new Error(`treeWith: ${JSON.stringify(bad)} is not a relative path of plain segments without a newline`);
  const dirs = new Set<string>(['']);
  for (const p of changes.keys()) {
    for (let d = dirOf(p); !dirs.has(d); d = dirOf(d)) dirs.add(d);
  }
  const folders = await foldersAt(project, commit, [...dirs]);
  for (const [p, entry] of changes) {
    const folder = folders.get(dirOf(p))!;
    if (entry === null) folder.delete(nameOf(p));
    else folder.set(nameOf(p), entry);
  }
  const depth = (d: string) => (d === '' ? 0 : d.split('/').length);
  const levels = [...dirs].filter((d) => d !== '').sort((a, b) => depth(b) - depth(a));
  while (levels.length > 0) {
    const level = depth(levels[0]!);
    const next = levels.findIndex((d) => depth(d) !== level);
    const here = levels.splice(0, next === -1 ? levels.length : next);
    const full = here.filter((d) => folders.get(d)!.size > 0);
    const ids = await makeTrees(project, full.map((d) => folders.get(d)!));
    for (const d of here) {
      const parentFolder = folders.get(dirOf(d))!;
      const explicit = changes.get(d);
      if (explicit) continue; // a file written at this path now: it replaced the folder
      const id = ids[full.indexOf(d)];
      if (id !== undefined) parentFolder.set(nameOf(d), { mode: '040000', id });
      else if (parentFolder.get(nameOf(d))?.mode === '040000') parentFolder.delete(nameOf(d));
    }
  }
  const root = folders.get('')!;
  if (root.size === 0) return (await bareGit(project, ['mktree'], { input: '' })).stdout.trim();
  return (await makeTrees(project, [root]))[0]!;
}

/** Writes each folder as a tree (one `git mktree -z --batch` for them all; git sorts and checks the entries). Returns their ids in order. */
async function makeTrees(project: Pick<GitProject, 'commonDir'>, folders: readonly Map<string, TreeEntry>[]): Promise<string[]> {
  if (folders.length === 0) return [];
  const input = folders.map((f) => [...f].map(([name, e]) => `${e.mode} ${typeOf(e.mode)} ${e.id}\t${name}\0`).join('') + '\0').join('');
  const ids = (await bareGit(project, ['mktree', '-z', '--batch'], { input })).stdout.split('\n').filter(Boolean);
  if (ids.length !== folders.length) throw new Error(`git mktree wrote ${ids.length} trees of ${folders.length}`);
  return ids;
}

/**
 * Puts the difference between two commits into a box's view (contents from
 * git's objects, `absent` for deletions): how a resumed task's view, fresh
 * on the current lower stack at `from`, is brought to its last recorded
 * commit `to`. What a dead worker half-wrote was in the old box's layer,
 * which died with it.
 */
export async function replayInto(project: GitProject, box: Pick<TaskBox, 'write'>, from: string, to: string): Promise<number> {
  if (from === to) return 0;
  const changed = await changedBetween(project, from, to);
  const present = changed.filter((c) => c.change !== 'deleted').map((c) => c.path);
  const modes = await modesAt(project, to, present);
  const writes: BoxFile[] = changed.filter((c) => c.change === 'deleted').map((c) => ({ path: c.path, kind: 'absent' as const }));
  for (let i = 0; i < present.length; i += BATCH) {
    const chunk = present.slice(i, i + BATCH);
    const contents = await blobsAt(project, to, chunk);
    chunk.forEach((p, k) => {
      const mode = modes.get(p);
      if (mode === '120000') writes.push({ path: p, kind: 'symlink', target: contents[k]!.toString() });
      else if (mode === '100644' || mode === '100755') writes.push({ path: p, kind: 'file', executable: mode === '100755', content: contents[k]! });
    });
  }
  // Deletions first: a file that became a folder (or the reverse) makes room before it is written.
  await box.write(writes);
  return writes.length;
}

/** The bytes of `paths` at `commit`, as stored (no filter): one `cat-file --batch` for them all. */
export async function blobsAt(project: Pick<GitProject, 'commonDir'>, commit: string, paths: readonly string[]): Promise<Buffer[]> {
  if (paths.length === 0) return [];
  const out = await gitBytes(['--git-dir', project.commonDir, '-c', 'core.bare=true', 'cat-file', '--batch'], {
    cwd: project.commonDir,
    bare: true,
    input: paths.map((p) => `${commit}:${p}\n`).join(''),
  });
  const blobs: Buffer[] = [];
  let at = 0;
  for (const p of paths) {
    const eol = out.indexOf(0x0a, at);
    const header = out.subarray(at, eol).toString();
    const size = Number(header.split(' ')[2]);
    if (!/^[0-9a-f]+ blob \d+$/.test(header)) throw new Error(`git cat-file found no blob ${commit}:${p} (${header})`);
    blobs.push(out.subarray(eol + 1, eol + 1 + size));
    at = eol + 1 + size + 1;
  }
  return blobs;
}
