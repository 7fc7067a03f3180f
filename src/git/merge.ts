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
 * someone else moved it meanwhile. Callers hold the project's merge lock.
 */
export async function mergeIntoProject(project: GitProject, o: { ref: string; message: string; identity: GitIdentity }): Promise<MergeOutcome> {
  const headRef = `refs/heads/${project.branch}`;
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
    try {
      if (checkedOut) await git(['merge', '--ff-only', '-q', next], { cwd: project.root, identity: o.identity });
      else await git(['update-ref', '-m', `backend-orchestrator: merge ${o.ref}`, headRef, next, head], { cwd: project.root });
      return { kind: 'merged', sha: next, fastForward };
    } catch (error) {
      if (!(error instanceof GitCommandError)) throw error;
      const moved = (await revParse(project, headRef)) !== head;
      if (moved && attempt < ATTEMPTS) continue;
      return { kind: 'refused', reason: `the project folder ${project.root} could not be updated: ${error.stderr.trim().split('\n')[0] ?? 'git refused'}` };
    }
  }
}
