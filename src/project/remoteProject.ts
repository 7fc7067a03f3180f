import { createHash } from 'node:crypto';
import { access, mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../logger.ts';
import { git, gitLine, type GitIdentity } from '../git/git.ts';
import type { GitProject } from '../git/project.ts';
import { ProjectError } from '../git/projectError.ts';
import { deleteRemoteRef, fetchRefs, lsRemote, openRemote, pushRef, RemoteUnreachableError, tokenSecrets, type Remote } from '../git/remote.ts';
import { mergeByPush, type RemoteMergeOutcome } from '../git/remoteMerge.ts';

/** How often pushes held back by an outage are tried again. */
export const HELD_BACK_RETRY_MS = 30_000;

/** Backoff between the attempts of a merge by push when the remote does not answer (then the result says where the work is). */
const UNREACHABLE_BACKOFF_MS = [1_000, 2_000, 4_000];

/** Where a task branch's last push went. */
export type PushState = 'pushed' | 'held' | 'rejected';

/**
 * The project as a git remote (remote mode): this instance's own mirror of
 * it under the workspace, through which every task box and worktree is
 * built as in local mode, and the remote operations around it. Every fetch,
 * push and merge of this instance goes through one in-process queue (the
 * mirror's refs are one thing); across instances the only guard is the
 * remote's compare-and-swap on push.
 */
export interface RemoteProject {
  readonly remote: Remote;
  /** The mirror, as a git project on the branch tasks merge into (its HEAD is detached: the branch moves by update-ref only). */
  readonly mirror: GitProject;
  /** The branch tasks merge into. */
  readonly branch: string;
  /** Credentials the scrubber must learn (the token and its header, a URL's password). */
  readonly secrets: readonly string[];
  /** Brings the mirror's branch to the remote's (before a task's base is chosen) and pushes what an outage held back; an unreachable remote is logged, the mirror stays as it is. */
  sync(): Promise<void>;
  /** Fetches a task branch the remote has (a takeover resumes from it) and remembers where it is; null when the remote has none, undefined when it did not answer. */
  fetchTaskBranch(branch: string): Promise<string | null | undefined>;
  /** Pushes a task branch's commit (a lease on where this instance last saw it); held back and tried again when the remote does not answer. */
  pushBranch(branch: string, sha: string): Promise<PushState>;
  /** Merges a task's tip into the branch by push (mergeByPush), retried with backoff while the remote does not answer. */
  merge(tip: string, message: string): Promise<RemoteMergeOutcome | { kind: 'unreachable'; why: string }>;
  /** Deletes a merged task branch on the remote while it still points at `tip`. */
  deleteBranch(branch: string, tip: string): Promise<void>;
  /** Task branches whose last commit is only in the mirror. */
  heldBack(): ReadonlyMap<string, string>;
  close(): Promise<void>;
}

export interface RemoteProjectOptions {
  url: string;
  token?: string | undefined;
  /** The branch tasks merge into; default the remote's HEAD. */
  branch?: string | undefined;
  /** The workspace: the mirror is `<workspace>/.mirror-<hash of the URL>`. */
  workspace: string;
  identity: GitIdentity;
  logger: Logger;
  /** Test seam: the retry period of held-back pushes. */
  heldBackRetryMs?: number;
  /** Test seam: the backoff of a merge while the remote does not answer. */
  unreachableBackoffMs?: readonly number[];
}

const exists = (p: string): Promise<boolean> => access(p).then(() => true, () => false);

/** A URL's password and user, which git would send and the scrubber must know. */
function urlSecrets(url: string): string[] {
  try {
    const u = new URL(url);
    return u.password ? [decodeURIComponent(u.password), u.password] : [];
  } catch {
    return [];
  }
}

/** Whether `dir` is a bare git repository (a path that names a remote, not a project folder). */
export async function isBareRepository(dir: string): Promise<boolean> {
  const r = await git(['--git-dir', dir, 'rev-parse', '--is-bare-repository'], { cwd: dir, okCodes: [128] }).catch(() => undefined);
  return r?.code === 0 && r.stdout.trim() === 'true';
}

/** The mirror's folder of a remote: one per URL (credentials left out) under the workspace. */
export const mirrorOf = (workspace: string, shown: string): string =>
  path.join(workspace, `.mirror-${createHash('sha256').update(shown).digest('hex').slice(0, 16)}`);

/**
 * Opens the remote: finds its branch, makes or brings up to date the mirror
 * and checks its files out at the branch's head (the box view's snapshot is
 * taken from them). Throws ProjectError when the remote cannot be used: no
 * answer and no mirror to start from, no such branch, an empty repository.
 */
export async function openRemoteProject(o: RemoteProjectOptions): Promise<RemoteProject> {
  const { logger } = o;
  const remote = openRemote(o.url, o.token);
  await mkdir(o.workspace, { recursive: true });
  const root = mirrorOf(o.workspace, remote.shown);
  const had = await exists(path.join(root, '.git'));
  let branch = o.branch;
  let reachable = true;
  try {
    const listed = await lsRemote(remote, o.workspace);
    branch ??= listed.head;
    if (branch === undefined || !listed.heads.has(`refs/heads/${branch}`)) {
      const known = [...listed.heads.keys()].map((r) => r.replace(/^refs\/heads\//, ''));
      throw new ProjectError(
        listed.heads.size === 0
          ? `--project ${remote.shown} has no branch yet: push a first commit to it (git push ${remote.shown} main)`
          : `--project ${remote.shown} has no branch ${branch ?? "its HEAD names"}: pass --project-branch with one of ${known.slice(0, 10).join(', ')}`,
      );
    }
  } catch (error) {
    if (!(error instanceof RemoteUnreachableError) || !had || branch === undefined) {
      if (error instanceof RemoteUnreachableError) throw new ProjectError(`--project ${remote.shown}: ${error.message.replace(/: the work stays.*$/, '')}; check the URL, the network and git's credentials on this host (or --project-token-env)`);
      throw error;
    }
    reachable = false;
    logger.warn({ remote: remote.shown, why: error.why }, "the project's remote does not answer: starting from this instance's mirror as it is; pushes wait until it answers");
  }
  const ref = `refs/heads/${branch!}`;
  if (!had) {
    await rm(root, { recursive: true, force: true });
    await mkdir(root, { recursive: true });
    await git(['init', '--quiet', root], { cwd: o.workspace });
  }
  const gitDir = path.join(root, '.git');
  if (reachable) await fetchRefs(remote, gitDir, [`+${ref}:${ref}`]);
  // Detached: the branch is moved by update-ref alone (a fetch, a merge by push), never by a checkout.
  await git(['checkout', '--quiet', '--force', '--detach', `${ref}^{commit}`], { cwd: root });
  await git(['clean', '-fdxq'], { cwd: root });
  const mirror: GitProject = { root, commonDir: gitDir, gitDir, branch: branch! };
  logger.info({ remote: remote.shown, branch, mirror: root, head: await gitLine(['rev-parse', ref], { cwd: root }) }, 'the project is a git remote: tasks are built from this instance\'s mirror and merged by push');

  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = queue.then(fn, fn);
    queue = next.catch(() => undefined);
    return next;
  };
  /** Where this instance last saw each task branch on the remote (null: absent). */
  const known = new Map<string, string | null>();
  const held = new Map<string, string>();
  let closed = false;

  const pushNow = async (branch: string, sha: string): Promise<PushState> => {
    const ref = `refs/heads/${branch}`;
    try {
      const expected = known.has(branch) ? known.get(branch)! : undefined;
      // A branch never seen: the first push creates it, unless it exists (then a plain push: a fast-forward only).
      const pushed = await pushRef(remote, gitDir, { sha, ref, ...(expected !== undefined ? { expected } : {}) });
      held.delete(branch);
      if (pushed.kind === 'pushed') {
        known.set(branch, sha);
        return 'pushed';
      }
      logger.warn({ branch, commit: sha, why: pushed.why }, 'the remote refused the task branch: another holder moved it since (a takeover); this instance leaves it alone');
      return 'rejected';
    } catch (error) {
      if (!(error instanceof RemoteUnreachableError)) throw error;
      held.set(branch, sha);
      logger.warn({ branch, commit: sha, why: error.why, remote: remote.shown }, "the remote does not answer: the task branch's commit stays in the mirror and is pushed when it does");
      return 'held';
    }
  };

  const flushHeld = async (): Promise<void> => {
    for (const [branch, sha] of [...held]) {
      if ((await pushNow(branch, sha)) === 'held') return; // still down: the rest waits too
      logger.info({ branch, commit: sha }, 'pushed a task branch an outage had held back');
    }
  };

  const timer = setInterval(() => {
    if (held.size > 0 && !closed) serial(flushHeld).catch((error: unknown) => logger.warn({ err: error }, 'could not push the held-back task branches'));
  }, o.heldBackRetryMs ?? HELD_BACK_RETRY_MS);
  timer.unref();

  const sync = () =>
    serial(async () => {
      try {
        await fetchRefs(remote, gitDir, [`+${ref}:${ref}`]);
      } catch (error) {
        if (!(error instanceof RemoteUnreachableError)) throw error;
        logger.warn({ remote: remote.shown, why: error.why }, "the project's remote does not answer: the task starts on the mirror as it is");
        return;
      }
      if (held.size > 0) await flushHeld();
    });

  const fetchTaskBranch = (branch: string) =>
    serial(async (): Promise<string | null | undefined> => {
      const ref = `refs/heads/${branch}`;
      try {
        const at = (await lsRemote(remote, root, [ref])).heads.get(ref) ?? null;
        if (at !== null) await fetchRefs(remote, gitDir, [`+${ref}:refs/remotes/origin/${branch}`]);
        if (!held.has(branch)) known.set(branch, at);
        return at;
      } catch (error) {
        if (!(error instanceof RemoteUnreachableError)) throw error;
        logger.warn({ branch, why: error.why }, "the remote does not answer: the task branch is resumed from the mirror's copy, if any");
        return undefined;
      }
    });

  const merge = (tip: string, message: string) =>
    serial(async (): Promise<RemoteMergeOutcome | { kind: 'unreachable'; why: string }> => {
      const backoff = o.unreachableBackoffMs ?? UNREACHABLE_BACKOFF_MS;
      for (let attempt = 0; ; attempt++) {
        try {
          return await mergeByPush(remote, mirror, {
            branch: branch!,
            tip,
            message,
            identity: o.identity,
            onRetry: (n, why) => logger.info({ attempt: n, why, branch }, `${branch!} moved on the remote between the fetch and the push: merging again on its new head`),
          });
        } catch (error) {
          if (!(error instanceof RemoteUnreachableError)) throw error;
          const wait = backoff[attempt];
          if (wait === undefined || closed) return { kind: 'unreachable', why: error.why };
          logger.warn({ why: error.why, retry_in_ms: wait }, 'the remote does not answer the merge: trying again');
          await new Promise((r) => setTimeout(r, wait));
        }
      }
    });

  return {
    remote,
    mirror,
    branch: branch!,
    secrets: [...tokenSecrets(o.token), ...urlSecrets(o.url)],
    sync,
    fetchTaskBranch,
    pushBranch: (b, sha) => serial(() => pushNow(b, sha)),
    merge,
    deleteBranch: (b, tip) =>
      serial(async () => {
        await deleteRemoteRef(remote, gitDir, `refs/heads/${b}`, tip).catch((error: unknown) => {
          if (!(error instanceof RemoteUnreachableError)) throw error;
        });
      }),
    heldBack: () => held,
    close: async () => {
      closed = true;
      clearInterval(timer);
      await queue.catch(() => undefined);
      if (held.size > 0) {
        logger.warn({ branches: [...held.keys()], mirror: root }, `task branches the remote never got stay in the mirror: push them with \`git -C ${root} push ${remote.shown} <branch>\``);
      }
    },
  };
}
