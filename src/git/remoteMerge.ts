import { git, gitLine, type GitIdentity } from './git.ts';
import type { GitProject } from './project.ts';
import { fetchRefs, pushRef, type Remote } from './remote.ts';

/** Attempts of a merge by push while the remote's branch keeps moving under it. */
export const REMOTE_MERGE_ATTEMPTS = 10;

export type RemoteMergeOutcome =
  /** The remote's branch now holds the task: `sha` is its new head; `retries` the pushes refused because it had moved. */
  | { kind: 'merged'; sha: string; fastForward: boolean; retries: number }
  /** The remote's branch already held the task's tip (an earlier attempt, or another holder, merged it). */
  | { kind: 'already'; sha: string; retries: number }
  /** Both sides changed these files: nothing was pushed to the project branch. */
  | { kind: 'conflict'; files: string[]; retries: number }
  /** The branch moved under every attempt: nothing was merged. */
  | { kind: 'refused'; reason: string; retries: number };

const isAncestor = async (mirror: GitProject, a: string, b: string): Promise<boolean> =>
  (await git(['merge-base', '--is-ancestor', a, b], { cwd: mirror.root, okCodes: [1] })).code === 0;

/**
 * Merges the commit `tip` (a task branch's) into the remote's `branch` by
 * push, with no lock: fetch the branch into the mirror, merge there in
 * git's object store (a fast-forward, or `merge-tree --write-tree` and
 * `commit-tree`, never a work tree), and push the result as a
 * compare-and-swap (`--force-with-lease=refs/heads/<branch>:<head fetched>`).
 * When another instance moved the branch between the fetch and the push,
 * the push is refused and the whole is done again on the new head, at most
 * REMOTE_MERGE_ATTEMPTS times. A tip the branch already holds is not merged
 * twice. The mirror's `refs/heads/<branch>` follows the remote's.
 * Throws RemoteUnreachableError when the remote does not answer.
 */
export async function mergeByPush(
  remote: Remote,
  mirror: GitProject,
  o: { branch: string; tip: string; message: string; identity: GitIdentity; attempts?: number; onRetry?: (attempt: number, why: string) => void },
): Promise<RemoteMergeOutcome> {
  const ref = `refs/heads/${o.branch}`;
  const attempts = o.attempts ?? REMOTE_MERGE_ATTEMPTS;
  let retries = 0;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    await fetchRefs(remote, mirror.commonDir, [`+${ref}:${ref}`]);
    const head = await gitLine(['rev-parse', '--verify', `${ref}^{commit}`], { cwd: mirror.root });
    if (await isAncestor(mirror, o.tip, head)) return { kind: 'already', sha: head, retries };
    const fastForward = await isAncestor(mirror, head, o.tip);
    let next = o.tip;
    if (!fastForward) {
      // Bare, in git's own folder: no .gitattributes of the tree is read, so no merge driver a worker named runs.
      const merged = await git(['--git-dir', mirror.commonDir, '-c', 'core.bare=true', 'merge-tree', '--write-tree', '--name-only', '--no-messages', head, o.tip], {
        cwd: mirror.commonDir,
        okCodes: [1],
      });
      const [tree, ...rest] = merged.stdout.split('\n');
      if (merged.code === 1) return { kind: 'conflict', files: [...new Set(rest.filter(Boolean))], retries };
      next = await gitLine(['commit-tree', tree!.trim(), '-p', head, '-p', o.tip, '-F', '-'], { cwd: mirror.root, identity: o.identity, input: o.message });
    }
    const pushed = await pushRef(remote, mirror.commonDir, { sha: next, ref, expected: head });
    if (pushed.kind === 'pushed') {
      await git(['update-ref', '-m', `backend-orchestrator: merged by push into ${remote.shown}`, ref, next], { cwd: mirror.root });
      return { kind: 'merged', sha: next, fastForward, retries };
    }
    retries += 1;
    o.onRetry?.(attempt, pushed.why);
  }
  return { kind: 'refused', reason: `${remote.shown}'s ${o.branch} moved under each of ${attempts} attempts to push the merge`, retries };
}
