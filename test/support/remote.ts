import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gitIn, sampleProject } from './project.ts';

/** A bare repository holding the demo's sample project on `main` (HEAD main), and its file:// URL. */
export async function bareRemote(): Promise<{ bare: string; url: string; seed: string }> {
  const seed = await sampleProject();
  const bare = join(mkdtempSync(join(tmpdir(), 'orch-remote-')), 'project.git');
  gitIn(seed, 'clone', '-q', '--bare', seed, bare);
  gitIn(bare, 'symbolic-ref', 'HEAD', 'refs/heads/main');
  return { bare, url: `file://${bare}`, seed };
}

/** A working clone of the remote for a test to commit and push from, as a person (or another instance) would. */
export function personClone(url: string): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'orch-person-')), 'clone');
  gitIn(tmpdir(), 'clone', '-q', url, dir);
  return dir;
}

/** Commits `file` with `content` in a clone and pushes it to `main`: the remote's branch moves. */
export function pushFrom(clone: string, file: string, content: string): string {
  gitIn(clone, 'pull', '-q', '--no-rebase', 'origin', 'main');
  writeFileSync(join(clone, file), content);
  gitIn(clone, 'add', '-A');
  gitIn(clone, 'commit', '-qm', `person: ${file}`);
  gitIn(clone, 'push', '-q', 'origin', 'HEAD:main');
  return gitIn(clone, 'rev-parse', 'HEAD');
}

/**
 * A pre-receive hook in the bare remote that, the first `times` pushes to
 * `main`, moves `main` itself to `moveTo` first (another writer winning the
 * race between a fetch and a push): git then refuses those pushes because
 * the branch is no longer where they expected. (A hook's objects are in
 * quarantine, where git forbids ref updates: the move is made outside it.)
 */
export function raceHook(bare: string, moveTo: string, times = 1): string {
  const counter = join(bare, 'race-count');
  writeFileSync(counter, '0');
  const hook = join(bare, 'hooks', 'pre-receive');
  writeFileSync(
    hook,
    [
      '#!/bin/sh',
      'while read old new ref; do',
      '  [ "$ref" = refs/heads/main ] || continue',
      `  n=$(cat ${counter})`,
      `  if [ "$n" -lt ${times} ]; then echo $((n + 1)) > ${counter}; env -u GIT_QUARANTINE_PATH git update-ref refs/heads/main ${moveTo}; fi`,
      'done',
      'exit 0',
      '',
    ].join('\n'),
  );
  chmodSync(hook, 0o755);
  return counter;
}
