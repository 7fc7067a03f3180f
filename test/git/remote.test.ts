import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compareUrl, fetchRefs, isRemoteUrl, lsRemote, openRemote, pushRef, RemoteUnreachableError, shownUrl, tokenHeader, tokenSecrets } from '../../src/git/remote.ts';
import { mergeByPush } from '../../src/git/remoteMerge.ts';
import type { GitProject } from '../../src/git/project.ts';
import { gitIn } from '../support/project.ts';
import { bareRemote, personClone, pushFrom, raceHook } from '../support/remote.ts';

const identity = { name: 'Merger', email: 'merger@example.com' };

/** An empty repository to fetch into, as the mirror is. */
function emptyMirror(): GitProject {
  const root = join(mkdtempSync(join(tmpdir(), 'orch-mirror-')), 'm');
  gitIn(tmpdir(), 'init', '-q', root);
  return { root, commonDir: join(root, '.git'), gitDir: join(root, '.git'), branch: 'main' };
}

/** A commit on top of `parent` in `mirror` writing `file`, made with plumbing (as a task's worker commit is). */
function commitOn(mirror: GitProject, parent: string, file: string, content: string): string {
  const index = join(mirror.gitDir, `idx-${Math.random()}`);
  const env = { ...process.env, GIT_INDEX_FILE: index, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' };
  const run = (args: string[], input?: string) =>
    execFileSync('git', args, { cwd: mirror.root, env, encoding: 'utf8', ...(input !== undefined ? { input } : {}) }).trim();
  run(['read-tree', parent]);
  const blob = run(['hash-object', '-w', '--stdin'], content);
  run(['update-index', '--add', '--cacheinfo', `100644,${blob},${file}`]);
  const tree = run(['write-tree']);
  return run(['commit-tree', tree, '-p', parent, '-m', `task: ${file}`]);
}

describe('remote URLs', () => {
  it('tells a remote URL from a path, and shows it without credentials', () => {
    for (const url of ['https://github.com/a/b.git', 'ssh://git@host/r.git', 'git://host/r', 'file:///srv/r.git', 'git@github.com:acme/app.git']) expect(isRemoteUrl(url), url).toBe(true);
    for (const p of ['/srv/project', './project', 'project', 'C:/x', '/a/b@c:d']) expect(isRemoteUrl(p), p).toBe(false);
    expect(shownUrl('https://user:s3cret-token@example.com/r.git')).toBe('https://example.com/r.git');
    expect(shownUrl('git@github.com:acme/app.git')).toBe('git@github.com:acme/app.git');
  });

  it('builds the compare URL of the known forges, and none for a remote no browser shows', () => {
    expect(compareUrl('git@github.com:acme/app.git', 'main', 'backend/t1')).toBe('https://github.com/acme/app/compare/main...backend/t1');
    expect(compareUrl('https://x:tok@github.com/acme/app.git', 'main', 'backend/t1')).toBe('https://github.com/acme/app/compare/main...backend/t1');
    expect(compareUrl('https://gitlab.example.com/g/sub/app.git', 'main', 'backend/t1')).toBe('https://gitlab.example.com/g/sub/app/-/compare/main...backend/t1');
    expect(compareUrl('ssh://git@bitbucket.org/acme/app.git', 'dev', 'backend/t1')).toBe('https://bitbucket.org/acme/app/branch/backend/t1?dest=dev');
    expect(compareUrl('https://codeberg.org/acme/app', 'main', 'backend/t1')).toBe('https://codeberg.org/acme/app/compare/main...backend/t1');
    expect(compareUrl('http://127.0.0.1:3000/acme/app.git', 'main', 'backend/t1')).toBe('http://127.0.0.1:3000/acme/app/compare/main...backend/t1');
    expect(compareUrl('file:///srv/app.git', 'main', 'backend/t1')).toBeUndefined();
    expect(compareUrl('git://host/app.git', 'main', 'backend/t1')).toBeUndefined();
  });
});

describe('ls-remote, fetch and push against a bare repository (file://)', () => {
  it("lists the branches and HEAD's, fetches one, and pushes as a compare-and-swap", async () => {
    const { url } = await bareRemote();
    const remote = openRemote(url);
    const mirror = emptyMirror();
    const listed = await lsRemote(remote, mirror.root);
    expect(listed.head).toBe('main');
    const main = listed.heads.get('refs/heads/main')!;
    expect(main).toMatch(/^[0-9a-f]{40}$/);
    await fetchRefs(remote, mirror.commonDir, ['+refs/heads/main:refs/heads/main']);
    expect(gitIn(mirror.root, 'rev-parse', 'refs/heads/main')).toBe(main);

    const mine = commitOn(mirror, main, 'a.txt', 'a\n');
    // A branch that must not exist yet: created.
    expect(await pushRef(remote, mirror.commonDir, { sha: mine, ref: 'refs/heads/backend/t1', expected: null })).toEqual({ kind: 'pushed' });
    // Another commit with the same expectation: it exists now, refused.
    const other = commitOn(mirror, main, 'b.txt', 'b\n');
    expect((await pushRef(remote, mirror.commonDir, { sha: other, ref: 'refs/heads/backend/t1', expected: null })).kind).toBe('rejected');
    // The lease on main at the wrong commit: refused, main untouched.
    expect((await pushRef(remote, mirror.commonDir, { sha: other, ref: 'refs/heads/main', expected: mine })).kind).toBe('rejected');
    expect((await lsRemote(remote, mirror.root)).heads.get('refs/heads/main')).toBe(main);
    // The lease at the right commit: pushed.
    expect(await pushRef(remote, mirror.commonDir, { sha: other, ref: 'refs/heads/main', expected: main })).toEqual({ kind: 'pushed' });
    // A plain push that is not a fast-forward: refused.
    expect((await pushRef(remote, mirror.commonDir, { sha: mine, ref: 'refs/heads/main' })).kind).toBe('rejected');
  });

  it('says a remote that does not answer is unreachable, retryable, with its URL and without the credentials', async () => {
    const mirror = emptyMirror();
    const gone = openRemote(`file://${join(tmpdir(), 'no-such-remote-' + Date.now())}`);
    const failed = await lsRemote(gone, mirror.root).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(RemoteUnreachableError);
    expect((failed as RemoteUnreachableError).retryable).toBe(true);
    expect((failed as Error).message).toContain(gone.shown);
    // A closed port, with a password in the URL: named without it.
    const closed = openRemote('https://someone:hunter2-secret@127.0.0.1:9/r.git');
    const refused = await fetchRefs(closed, mirror.commonDir, ['refs/heads/main']).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RemoteUnreachableError);
    expect((refused as Error).message).toContain('https://127.0.0.1:9/r.git');
    expect((refused as Error).message).not.toContain('hunter2');
  });

  it('sends the token as an HTTP header through the environment, not the URL, and the scrubber gets its forms', async () => {
    const seen: (string | undefined)[] = [];
    const server = createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.writeHead(403).end('no');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const { port } = server.address() as AddressInfo;
      const token = 'ghp_test_token_0123456789';
      const remote = openRemote(`http://127.0.0.1:${port}/acme/app.git`, token);
      expect(remote.url).not.toContain(token);
      expect(Object.values(remote.env)).toContain(tokenHeader(token));
      const failed = await lsRemote(remote, tmpdir()).catch((e: unknown) => e);
      expect(failed).toBeInstanceOf(RemoteUnreachableError);
      expect((failed as Error).message).not.toContain(token);
      expect(seen).toContain(tokenHeader(token).replace('Authorization: ', ''));
      const secrets = tokenSecrets(token);
      expect(secrets).toContain(token);
      expect(secrets).toContain(Buffer.from(`x-access-token:${token}`).toString('base64'));
    } finally {
      server.close();
    }
  });
});

describe('mergeByPush', () => {
  async function setUp() {
    const { bare, url } = await bareRemote();
    const remote = openRemote(url);
    const mirror = emptyMirror();
    await fetchRefs(remote, mirror.commonDir, ['+refs/heads/main:refs/heads/main']);
    const base = gitIn(mirror.root, 'rev-parse', 'main');
    return { bare, url, remote, mirror, base };
  }

  it('fast-forwards, then finds the tip already merged (never twice)', async () => {
    const { remote, mirror, base, bare } = await setUp();
    const tip = commitOn(mirror, base, 'src/new.js', 'new\n');
    expect(await mergeByPush(remote, mirror, { branch: 'main', tip, message: 'Merge\n', identity })).toEqual({ kind: 'merged', sha: tip, fastForward: true, retries: 0 });
    expect(gitIn(bare, 'rev-parse', 'main')).toBe(tip);
    expect(await mergeByPush(remote, mirror, { branch: 'main', tip, message: 'Merge\n', identity })).toEqual({ kind: 'already', sha: tip, retries: 0 });
  });

  it('merges onto a branch another writer moved, and retries when it moves between the fetch and the push', async () => {
    const { remote, mirror, base, bare, url } = await setUp();
    const person = personClone(url);
    const moved = pushFrom(person, 'person.txt', 'p\n');
    // What a third writer pushes while we merge: a commit the hook puts on main just before our push lands.
    const third = pushFrom(person, 'third.txt', 't\n');
    gitIn(bare, 'update-ref', 'refs/heads/main', moved);
    const counter = raceHook(bare, third, 1);
    const tip = commitOn(mirror, base, 'src/new.js', 'new\n');
    const retried: string[] = [];
    const merged = await mergeByPush(remote, mirror, { branch: 'main', tip, message: 'Merge task\n', identity, onRetry: (_n, why) => retried.push(why) });
    expect(merged.kind).toBe('merged');
    expect(merged.retries).toBe(1);
    expect(readFileSync(counter, 'utf8').trim()).toBe('1');
    const head = gitIn(bare, 'rev-parse', 'main');
    expect(head).toBe((merged as { sha: string }).sha);
    // The merge is on top of the third writer's commit: nothing of theirs was lost.
    expect(gitIn(bare, 'rev-parse', `${head}^1`)).toBe(third);
    expect(gitIn(bare, 'rev-parse', `${head}^2`)).toBe(tip);
    expect(gitIn(bare, 'log', '-1', '--format=%an', head)).toBe('Merger');
    expect(gitIn(mirror.root, 'rev-parse', 'refs/heads/main')).toBe(head);
  });

  it('reports a conflict and pushes nothing to the branch', async () => {
    const { remote, mirror, base, bare, url } = await setUp();
    const person = personClone(url);
    const moved = pushFrom(person, 'src/app.js', 'person side\n');
    const tip = commitOn(mirror, base, 'src/app.js', 'task side\n');
    const merged = await mergeByPush(remote, mirror, { branch: 'main', tip, message: 'Merge\n', identity });
    expect(merged).toEqual({ kind: 'conflict', files: ['src/app.js'], retries: 0 });
    expect(gitIn(bare, 'rev-parse', 'main')).toBe(moved);
  });

  it('gives up after the bounded attempts when the branch moves under each', async () => {
    const { remote, mirror, base, bare, url } = await setUp();
    const person = personClone(url);
    const third = pushFrom(person, 'third.txt', 't\n');
    gitIn(bare, 'update-ref', 'refs/heads/main', base);
    // The hook moves main before every push (to `third`, or back to `base`): every push meets a branch that moved.
    writeFileSync(join(bare, 'hooks', 'pre-receive'), `#!/bin/sh\nenv -u GIT_QUARANTINE_PATH git update-ref refs/heads/main $(git rev-parse refs/heads/main^0 | grep -q ${third} && echo ${base} || echo ${third})\nexit 0\n`, { mode: 0o755 });
    const tip = commitOn(mirror, base, 'src/new.js', 'new\n');
    const merged = await mergeByPush(remote, mirror, { branch: 'main', tip, message: 'Merge\n', identity, attempts: 3 });
    expect(merged.kind).toBe('refused');
    expect(merged.retries).toBe(3);
  });
});
