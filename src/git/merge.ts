import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { git, gitLine, type GitIdentity } from './git.ts';
import { GitCommandError } from './gitCommandError.ts';
import { operationInProgress, type GitProject } from './project.ts';

export type MergeOutcome =
  /** The project branch now holds the task branch: `sha` is the new head (the task's tip on a fast-forward). */
  | { kind: 'merged'; sha: string; fastForward: boolean }
  /** An earlier attempt (before a crash) already merged it: `sha` is where it entered the project branch. */
  | { kind: 'already'; sha: string }
  /** Both sides changed these files: nothing was merged. */
  | { kind: 'conflict'; files: string[] }
  /** The project folder is not in a state to take a merge; the branch was left alone. */
  | { kind: 'refused'; reason: string };

const ATTEMPTS = 5;

async function revParse(project: GitProject, rev: string): Promise<string> {
  return gitLine(['rev-parse', '--verify', `${rev}^{commit}`], { cwd: project.root });
}

async function isAncestor(project: GitProject, a: string, b: string): Promise<boolean> {
  return (await git(['merge-base', '--is-ancestor', a, b], { cwd: project.root, okCodes: [1] })).code === 0;
}

/** Where `tip`, already contained in `head`, entered the project branch's first-parent line. */
async function whereMerged(project: GitProject, tip: string, head: string): Promise<string> {
  if (tip === head) return tip;
  const line = await gitLine(['rev-list', '--first-parent', '--ancestry-path', '--reverse', `${tip}..${head}`], { cwd: project.root });
  const first = line.split('\n')[0];
  if (!first) return tip;
  const parent = await gitLine(['rev-parse', `${first}^1`], { cwd: project.root });
  return parent === tip ? tip : first;
}

/** Tracked files with changes in the project folder (untracked files do not count). */
async function dirtyFiles(project: GitProject): Promise<string[]> {
  const out = await git(['status', '--porcelain=v1', '-z', '--untracked-files=no'], { cwd: project.root });
  return out.stdout
    .split('\0')
    .filter(Boolean)
    .map((entry) => entry.slice(3));
}

/**
 * Merges `ref` into the project's branch without rewriting its history: a
 * fast-forward when the branch has not moved since the task started,
 * otherwise a merge commit built in git's object store (`merge-tree
 * --write-tree`, `commit-tree`), never in the project's working tree. The
 * branch moves only by a compare-and-swap (`git merge --ff-only` in the
 * project folder when it is checked out there and its tracked files are
 * clean, `update-ref <new> <old>` when it is not checked out), retried when
 * someone else moved it meanwhile. When the branch is checked out in the
 * project folder, the update is crash-safe (see updateCheckout and
 * recoverProjectUpdate, run first). Callers hold the project's merge lock.
 */
export async function mergeIntoProject(
  project: GitProject,
  o: { ref: string; message: string; identity: GitIdentity; onRecovered?: (line: string) => void },
): Promise<MergeOutcome> {
  const headRef = `refs/heads/${project.branch}`;
  // An update a killed holder left half-done is finished first (it would read as uncommitted changes).
  const recovered = await recoverProjectUpdate(project);
  if (recovered !== undefined) o.onRecovered?.(recovered);
  for (let attempt = 1; ; attempt++) {
    const tip = await revParse(project, o.ref);
    const head = await revParse(project, headRef);
    if (await isAncestor(project, tip, head)) return { kind: 'already', sha: await whereMerged(project, tip, head) };
    const busy = await operationInProgress(project.gitDir);
    if (busy) return { kind: 'refused', reason: `the project folder ${project.root} is in the middle of ${busy}` };
    const checkedOut = (await git(['symbolic-ref', '-q', 'HEAD'], { cwd: project.root, okCodes: [1] })).stdout.trim() === headRef;
    if (checkedOut) {
      const dirty = await dirtyFiles(project);
      if (dirty.length > 0) {
        const shown = dirty.slice(0, 10).join(', ') + (dirty.length > 10 ? ` and ${dirty.length - 10} more` : '');
        return { kind: 'refused', reason: `the project folder ${project.root} has uncommitted changes (${shown})` };
      }
    }
    let next: string;
    const fastForward = await isAncestor(project, head, tip);
    if (fastForward) {
      next = tip;
    } else {
      // Bare, in git's own folder: merge-tree then reads no .gitattributes from the tree or the index, so
      // a worker's `merge=<driver>` is never looked up (only $GIT_DIR/info/attributes, the user's, counts).
      const merged = await git(['--git-dir', project.commonDir, '-c', 'core.bare=true', 'merge-tree', '--write-tree', '--name-only', '--no-messages', head, tip], {
        cwd: project.commonDir,
        okCodes: [1],
      });
      const [tree, ...rest] = merged.stdout.split('\n');
      if (merged.code === 1) return { kind: 'conflict', files: [...new Set(rest.filter(Boolean))] };
      next = await gitLine(['commit-tree', tree!.trim(), '-p', head, '-p', tip, '-F', '-'], { cwd: project.root, identity: o.identity, input: o.message });
    }
    const reflog = `backend-orchestrator: merge ${o.ref}`;
    try {
      if (checkedOut) {
        const refused = await updateCheckout(project, { ref: headRef, from: head, to: next, reflog });
        if (refused !== undefined) return { kind: 'refused', reason: `the project folder ${project.root} could not be updated: ${refused}` };
      } else {
        await git(['update-ref', '-m', reflog, headRef, next, head], { cwd: project.root });
      }
      return { kind: 'merged', sha: next, fastForward };
    } catch (error) {
      if (!(error instanceof GitCommandError)) throw error;
      const moved = (await revParse(project, headRef)) !== head;
      if (moved && attempt < ATTEMPTS) continue;
      return { kind: 'refused', reason: `the project folder ${project.root} could not be updated: ${error.stderr.trim().split('\n')[0] ?? 'git refused'}` };
    }
  }
}

/**
 * What an update of the project folder's checkout is about to do, written
 * before it starts and removed when it is done: the branch and the commits
 * it moves from and to. A file in the project folder's own git folder (git
 * ignores files it does not know there), replaced by rename so it is whole
 * or absent.
 */
export interface UpdateIntent {
  ref: string;
  from: string;
  to: string;
  /** When it was written (ms since the epoch): locks git left after it are ours. */
  at: number;
  pid: number;
}

export const INTENT_FILE = 'backend-orchestrator-update.json';

const intentPath = (project: GitProject): string => path.join(project.gitDir, INTENT_FILE);

async function writeIntent(project: GitProject, intent: UpdateIntent): Promise<void> {
  const file = intentPath(project);
  await writeFile(`${file}.tmp`, `${JSON.stringify(intent)}\n`);
  await rename(`${file}.tmp`, file);
}

async function readIntent(project: GitProject): Promise<UpdateIntent | undefined> {
  const text = await readFile(intentPath(project), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    const v = JSON.parse(text) as Partial<UpdateIntent>;
    const sha = /^[0-9a-f]{40,64}$/;
    if (typeof v.ref === 'string' && v.ref.startsWith('refs/heads/') && sha.test(String(v.from)) && sha.test(String(v.to))) {
      return { ref: v.ref, from: v.from!, to: v.to!, at: Number(v.at) || 0, pid: Number(v.pid) || 0 };
    }
  } catch {
    // a torn or foreign file: treated as none below
  }
  return { ref: '', from: '', to: '', at: 0, pid: 0 };
}

const dropIntent = (project: GitProject): Promise<void> => rm(intentPath(project), { force: true });

/**
 * Moves the checked-out branch `ref` from `from` to `to` and brings the
 * project folder's index and files along, in an order a kill at any moment
 * leaves recoverable: the intent is written first; the branch moves by an
 * atomic compare-and-swap (`update-ref <to> <from>`); then `read-tree -m -u
 * <from> <to>` updates the index and the files that differ (a two-tree
 * merge: it refuses rather than overwrite a file that has changes or an
 * untracked file in the way); then the intent goes. Returns the reason when
 * read-tree refused (the branch is moved back, nothing changed), undefined
 * when done; throws GitCommandError when the branch moved under it.
 */
async function updateCheckout(project: GitProject, o: { ref: string; from: string; to: string; reflog: string }): Promise<string | undefined> {
  const at = { cwd: project.root };
  await writeIntent(project, { ref: o.ref, from: o.from, to: o.to, at: Date.now(), pid: process.pid });
  try {
    await git(['update-ref', '-m', o.reflog, o.ref, o.to, o.from], at);
  } catch (error) {
    await dropIntent(project);
    throw error;
  }
  try {
    await git(['read-tree', '-m', '-u', o.from, o.to], at);
  } catch (error) {
    if (!(error instanceof GitCommandError)) throw error;
    // Nothing was written (read-tree checks before it writes): put the branch back where it was.
    await git(['update-ref', '-m', `${o.reflog} (undone: the files could not be updated)`, o.ref, o.from, o.to], at);
    await dropIntent(project);
    return error.stderr.trim().split('\n')[0] || 'git read-tree refused';
  }
  await dropIntent(project);
  return undefined;
}

/** The paths `git diff --name-only <args>` names (no rename detection: both names count). */
async function diffNames(project: GitProject, ...args: string[]): Promise<string[]> {
  return (await git(['diff', '--name-only', '-z', '--no-renames', ...args], { cwd: project.root })).stdout.split('\0').filter(Boolean);
}

/** Removes a lock file git left when it was killed during our update (made after the intent was written). */
async function dropStaleLock(file: string, since: number): Promise<boolean> {
  const s = await stat(file).catch(() => undefined);
  if (s === undefined || s.mtimeMs < since - 1000) return false;
  await rm(file, { force: true });
  return true;
}

/**
 * Finishes, or finds nothing to do for, an update of the project folder
 * that a kill interrupted (see updateCheckout), from the intent it left.
 * Returns a line for the log saying what was found and done, or undefined
 * when no update was interrupted. Callers hold the project's merge lock (an
 * intent found under it is a dead holder's, not one in progress).
 *
 * - The branch still at `from`: it never moved and the files were not
 *   touched (read-tree runs only after the move): the intent is dropped.
 * - The branch at `to`: the move happened; the files and index entries that
 *   the update changes and that are not yet as in `to` (left half-written,
 *   or never written) are made so from `to` (`git restore --source=<to>
 *   --staged --worktree`), after the locks the killed git left are removed.
 * - Anything else (someone moved the branch or switched the checkout since):
 *   left as it is, with a line saying so.
 */
export async function recoverProjectUpdate(project: GitProject): Promise<string | undefined> {
  const intent = await readIntent(project);
  if (intent === undefined) return undefined;
  if (intent.ref === '') {
    await dropIntent(project);
    return `removed an unreadable record of an interrupted update of the project folder (${intentPath(project)})`;
  }
  const at = { cwd: project.root };
  const short = intent.ref.replace(/^refs\/heads\//, '');
  const range = `${intent.from.slice(0, 12)}..${intent.to.slice(0, 12)}`;
  const current = (await git(['rev-parse', '--verify', '-q', intent.ref], { ...at, okCodes: [1] })).stdout.trim();
  const onIt = (await git(['symbolic-ref', '-q', 'HEAD'], { ...at, okCodes: [1] })).stdout.trim() === intent.ref;
  const locks = [path.join(project.gitDir, 'index.lock'), path.join(project.commonDir, `${intent.ref}.lock`)];
  const dropped = [];
  for (const lock of locks) if (await dropStaleLock(lock, intent.at)) dropped.push(path.basename(lock));
  const lockNote = dropped.length > 0 ? ` (removed the killed git's ${dropped.join(', ')})` : '';
  if (current === intent.from) {
    await dropIntent(project);
    return `an update of ${short} (${range}) in the project folder was interrupted before ${short} moved: the project folder was left as before${lockNote}`;
  }
  if (current !== intent.to || !onIt) {
    await dropIntent(project);
    return `an update of ${short} (${range}) in the project folder was interrupted, and ${short} or the checkout has changed since (${short} at ${current.slice(0, 12) || 'nothing'}): left as it is${lockNote}`;
  }
  // The update's paths whose file or index entry is not yet as in `to`.
  const ours = new Set(await diffNames(project, intent.from, intent.to));
  const unlike = [...(await diffNames(project, intent.to)), ...(await diffNames(project, '--cached', intent.to))];
  const behind = new Set(unlike.filter((p) => ours.has(p)));
  if (behind.size > 0) {
    // Each of these is in `to` or in the index (git diff names no other), so every pathspec matches.
    await git(['--literal-pathspecs', 'restore', `--source=${intent.to}`, '--staged', '--worktree', '--pathspec-from-file=-', '--pathspec-file-nul'], {
      ...at,
      input: `${[...behind].join('\0')}\0`,
    });
  }
  await dropIntent(project);
  return behind.size > 0
    ? `completed an interrupted update of ${short} (${range}) in the project folder: ${behind.size} file(s) brought to ${intent.to.slice(0, 12)}${lockNote}`
    : `an update of ${short} (${range}) in the project folder was interrupted after it was done: nothing left to do${lockNote}`;
}
