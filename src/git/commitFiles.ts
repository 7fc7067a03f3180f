import { git } from './git.ts';

/** What commits changed, as repository-relative posix paths, each list sorted. */
export interface CommitFiles {
  /** Paths absent before and present after. */
  created: string[];
  /** Paths present on both sides whose content (or type: file, symlink) differs. */
  modified: string[];
  /** Paths present before and absent after. */
  deleted: string[];
}

/**
 * What changed between two commits (or trees), from the objects alone:
 * `git diff-tree -r --no-renames --name-status` with no work tree, no
 * index and no driver (a rename is a deletion and a creation, a type change
 * is a modification). A file written again with the same content is in no
 * list. `gitDir` is any git folder that holds both objects: a repository's
 * `.git`, a worktree's admin folder (`TaskWorktree.adminDir`), or a bare
 * repository.
 *
 * @example
 * const files = await filesBetween(project.commonDir, base, tip); // { created: ['src/routes/posts.js'], modified: [], deleted: [] }
 */
export function filesBetween(gitDir: string, from: string, to: string): Promise<CommitFiles> {
  return diffTree(gitDir, [from, to]);
}

async function diffTree(gitDir: string, revs: string[]): Promise<CommitFiles> {
  const out = await git(['--git-dir', gitDir, 'diff-tree', '-r', '-z', '--no-commit-id', '--no-renames', '--no-ext-diff', '--no-textconv', '--name-status', ...revs], { cwd: gitDir });
  const files: CommitFiles = { created: [], modified: [], deleted: [] };
  // -z: `<status>\0<path>\0` pairs; paths are given as they are (no quoting).
  const fields = out.stdout.split('\0');
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const status = fields[i]!;
    const file = fields[i + 1]!;
    if (status === 'A') files.created.push(file);
    else if (status === 'D') files.deleted.push(file);
    else files.modified.push(file); // M, T (file ⇄ symlink)
  }
  for (const list of Object.values(files)) list.sort();
  return files;
}

/**
 * What one commit changed against its first parent (a root commit: against
 * the empty tree, whatever the repository's hash). For a worker's commit on a task branch, this is the
 * worker's part of the task; an empty commit changed nothing.
 *
 * @example
 * const { created, modified, deleted } = await filesOfCommit(worktree.adminDir, commit);
 */
export async function filesOfCommit(gitDir: string, commit: string): Promise<CommitFiles> {
  const parents = await git(['--git-dir', gitDir, 'rev-list', '--parents', '-n', '1', commit], { cwd: gitDir });
  const parent = parents.stdout.trim().split(' ')[1];
  return parent === undefined ? diffTree(gitDir, ['--root', commit]) : diffTree(gitDir, [parent, commit]);
}
