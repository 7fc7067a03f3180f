import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { BoxUser } from './processLimit.ts';
import type { Sandbox } from './sandbox.ts';

// The `uid` process-limit mechanism (processLimit.ts) runs each Bash box as
// an unprivileged uid so that the kernel holds RLIMIT_NPROC for a root
// listener. That uid must write the task's writable binds, which root makes
// (the task folder, `git worktree add`, the file tools): each gets an access
// and a default ACL entry `u:<uid>:rwX` before anything is written into it.
// Under a default ACL the umask is ignored and a new file's ACL mask comes
// from the mode its creator asked for: git's 0666/0777 and the file tools'
// 0o666 give the box uid rw, while `other` keeps the folder's r-x. What the
// box creates is owned by its uid; root (the listener, git) reads it anyway.

function run(file: string, args: string[], options: { uid?: number; gid?: number; cwd?: string } = {}): Promise<{ code: number | string; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 15_000, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' }, ...options }, (error, stdout, stderr) => {
      const code = error === null ? 0 : ((error as NodeJS.ErrnoException).code ?? 1);
      resolve({ code: typeof code === 'number' || typeof code === 'string' ? code : 1, stdout, stderr });
    });
  });
}

/** Whether setfacl (Debian's `acl` package) is installed; the reason when not. */
export async function setfaclMissing(): Promise<string | undefined> {
  const r = await run('setfacl', ['--version']);
  if (r.code === 0) return undefined;
  return r.code === 'ENOENT' ? 'setfacl is not installed (Debian/Ubuntu: apt-get install acl)' : `setfacl --version failed: ${r.stderr.trim() || r.code}`;
}

/**
 * Creates `dir` when missing and opens it, and everything already in it, to
 * the box uid: `setfacl -R -m u:U:rwX,d:u:U:rwX`. Call it on an empty folder
 * before anything is written there, so all that follows inherits the entry.
 */
export async function grantBoxUser(dir: string, user: BoxUser): Promise<void> {
  const made = await mkdir(dir, { recursive: true });
  if (made === undefined) {
    // There already (a task folder's next worker): granted then, and all made since inherited the entry; no walk over it again.
    const current = await run('getfacl', ['--omit-header', '--default', '--', dir]);
    if (current.code === 0 && current.stdout.split('\n').includes(`user:${user.uid}:rwx`)) return;
  }
  const r = await run('setfacl', ['-R', '-m', `u:${user.uid}:rwX,d:u:${user.uid}:rwX`, '--', dir]);
  if (r.code !== 0) {
    throw new Error(`could not open ${dir} to the Bash box's uid ${user.uid} (setfacl: ${r.stderr.trim() || r.code}): does its file system support POSIX ACLs?`);
  }
}

/** Grants the box user `dir` when the sandbox runs as one; nothing otherwise. */
export async function openToBox(sandbox: Pick<Sandbox, 'boxUser'>, dir: string): Promise<void> {
  if (sandbox.boxUser !== undefined) await grantBoxUser(dir, sandbox.boxUser);
}

/** `dir` and each of its ancestors, root first. */
function ancestry(dir: string): string[] {
  const out: string[] = [];
  for (let at = path.resolve(dir); ; at = path.dirname(at)) {
    out.unshift(at);
    if (at === path.dirname(at)) return out;
  }
}

/** The folders on the way to `dirs` that `user` may not enter (access(2) as that uid: modes and ACLs both count). */
async function notTraversable(dirs: string[], user: BoxUser): Promise<string[]> {
  const all = [...new Set(dirs.flatMap(ancestry))];
  const r = await run('/bin/sh', ['-c', 'for d; do [ -x "$d" ] || echo "$d"; done', 'orch-probe', ...all], { ...user, cwd: '/' });
  return r.stdout.split('\n').filter(Boolean);
}

/**
 * Start-up check of the `uid` mechanism, for real: a box as `user` binding a
 * fresh folder under `workspace` (opened by ACL as a task's would be) must
 * write a file there that root then finds owned by `user`, with `readOnly`
 * (the project) bound too. Resolves to what is wrong, with what to chmod, or
 * undefined when it works.
 */
export async function probeBoxUser(sandbox: Sandbox, user: BoxUser, workspace: string, readOnly: string[] = []): Promise<string | undefined> {
  const blocked = await notTraversable([workspace, ...readOnly], user);
  if (blocked.length > 0) {
    return (
      `the Bash box runs as uid ${user.uid}, which cannot enter ${blocked.join(', ')} on the way to the workspace${readOnly.length > 0 ? ' or the project' : ''}: ` +
      `chmod o+x ${blocked.join(' ')} (or setfacl -m u:${user.uid}:x on them), or pass a --workspace under folders every user may enter`
    );
  }
  let dir: string;
  try {
    dir = mkdtempSync(path.join(workspace, '.orch-uid-probe-'));
  } catch (error) {
    return `cannot make a probe folder in ${workspace}: ${(error as Error).message}`;
  }
  try {
    await grantBoxUser(dir, user);
    writeFileSync(path.join(dir, 'from-root'), 'x', { mode: 0o666 });
    const cmd = sandbox.wrap({
      command: 'echo ok >> from-root && echo ok > from-box && id -u',
      binds: { writable: [dir], readOnly },
      env: { PATH: '/usr/bin:/bin' },
      limits: { processes: 64, fileSizeBytes: 1024 ** 2, cpuSeconds: 10, memoryBytes: 1024 ** 3, tmpBytes: 1024 ** 2 },
    });
    const r = await run(cmd.file, cmd.args, { cwd: cmd.cwd, ...(cmd.uid === undefined ? {} : { uid: cmd.uid, gid: cmd.gid ?? cmd.uid }) });
    await cmd.release?.();
    const made = path.join(dir, 'from-box');
    if (r.code !== 0 || !existsSync(made) || statSync(made).uid !== user.uid || r.stdout.trim() !== String(user.uid)) {
      return `a Bash box as uid ${user.uid} could not write into ${dir} (exit ${r.code}: ${r.stderr.trim() || r.stdout.trim() || 'no output'})`;
    }
    return undefined;
  } catch (error) {
    return (error as Error).message;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Lets the box user connect to the egress proxy's unix socket (connect(2)
 * needs write permission on it) through its private folder (0700): an ACL
 * entry on each, no wider mode.
 */
export async function grantBoxSocket(socketPath: string, user: BoxUser): Promise<void> {
  for (const [target, perms] of [[path.dirname(socketPath), 'x'], [socketPath, 'rw']] as const) {
    const r = await run('setfacl', ['-m', `u:${user.uid}:${perms}`, '--', target]);
    if (r.code !== 0) throw new Error(`could not open the egress proxy's ${target} to the Bash box's uid ${user.uid} (setfacl: ${r.stderr.trim() || r.code})`);
  }
}
