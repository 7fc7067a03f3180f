import { execFileSync } from 'node:child_process';
import { appendFileSync, chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildTaskMessage, sendTask } from '../../src/client/send.ts';
import { INTENT_FILE } from '../../src/git/merge.ts';
import type { TaskOutput, WorkerResult } from '../../src/protocol/output.ts';
import { taskDirName } from '../../src/workers/taskDirName.ts';
import { FAST_RECOVERY, type OrchestratorProcess, spawnOrchestrator } from '../support/process.ts';
import { gitIn, sampleProject } from '../support/project.ts';
import { client, eventually, freshDomain, redisUrl } from '../support/redis.ts';

// A real orchestrator process working on a git project, killed with SIGKILL
// between two workers: the file-system half of "finished workers are not run
// again" is the worker's commit, and the dead worker's files must not survive.

const procs: OrchestratorProcess[] = [];
afterEach(async () => {
  await Promise.all(procs.splice(0).map((p) => p.kill()));
});

const FAST = FAST_RECOVERY;

describe('crash suite with --project (SIGKILL)', () => {
  it('a task killed between workers resumes from the finished worker\'s commit, without the dead worker\'s files, and merges once', async () => {
    const project = await sampleProject();
    const base = gitIn(project, 'rev-parse', 'main');
    const { domain, keys } = freshDomain();
    const dir = mkdtempSync(join(tmpdir(), 'orch-crash-project-'));
    const runLog = join(dir, 'runs.log');
    // Drivers in the project's config (as if an attacker had got them in), each leaving a marker when run.
    const marks = mkdtempSync(join(tmpdir(), 'orch-marks-'));
    writeFileSync(join(marks, 'driver.sh'), `#!/bin/sh\ntouch "${marks}/ran-$1"\ncat\n`, { mode: 0o755 });
    for (const [key, what] of [['filter.x.clean', 'clean'], ['filter.x.smudge', 'smudge'], ['merge.x.driver', 'merge']] as const) {
      gitIn(project, 'config', key, `${join(marks, 'driver.sh')} ${what}`);
    }
    const launch = (latency: string) => {
      const p = spawnOrchestrator(
        ['--redis', redisUrl(), '--domain', domain, '--agent-id', `${domain}-a`, '--project', project, '--isolation', 'worktree', '--workspace', join(dir, 'wt'), ...FAST],
        { ORCH_SCRIPTED_LATENCY_MS: latency, ORCH_SCRIPTED_RUN_LOG: runLog },
      );
      procs.push(p);
      return p;
    };
    const redis = client();
    const sub = client();
    let publications = 0;
    try {
      await sub.psubscribe('results:*');
      sub.on('pmessage', () => publications++);
      // db-worker finishes quickly; api and auth wait long enough to be killed while running.
      const first = launch('db-worker=50,api-worker=60000,auth-worker=60000');
      await first.ready;
      const m = buildTaskMessage({ description: 'Create user registration endpoint' }, domain);
      await sendTask(redis, keys, m);
      const id = m.task_id;
      const saved = await eventually(async () => {
        const text = await redis.hget(keys.checkpoint(id), 'result:db-worker');
        return text ? (JSON.parse(text) as WorkerResult) : undefined;
      }, 20_000, 'db-worker result in the checkpoint');
      expect(saved.commit).toMatch(/^[0-9a-f]{40}$/);
      await eventually(async () => (existsSync(runLog) && readFileSync(runLog, 'utf8').includes(`start ${id} api-worker`) ? true : undefined), 10_000, 'api-worker started');

      // What a worker that dies mid-way leaves: a new half-written file, and a finished worker's file half-edited.
      const worktree = join(dir, 'wt', taskDirName(id));
      writeFileSync(join(worktree, 'src/routes/half-written.js'), 'export const router = ');
      appendFileSync(join(worktree, 'src/models/user.js'), '\nexport const broken = ');
      // And attributes that would send the reset's checkout of user.js through the planted filter.
      writeFileSync(join(worktree, '.gitattributes'), '*.js filter=x merge=x\n');
      await first.kill('SIGKILL');

      // The resumed workers wait 3 s before writing: time to look at the worktree they start from.
      const again = launch('3000');
      await again.ready;
      await eventually(async () => (again.output().includes('task worktree ready') ? true : undefined), 20_000, 'the resumed worktree');
      expect(existsSync(join(worktree, 'src/routes/half-written.js'))).toBe(false);
      expect(readFileSync(join(worktree, 'src/models/user.js'), 'utf8')).toBe(gitIn(project, 'show', `${saved.commit}:src/models/user.js`) + '\n');
      expect(gitIn(project, 'rev-parse', `${domain}/${taskDirName(id)}`)).toBe(saved.commit);
      const record = await eventually(async () => {
        const h = await redis.hgetall(`results:${id}`);
        return h.status === 'completed' || h.status === 'failed' ? h : undefined;
      }, 30_000, 'the resumed task\'s result');
      expect(record.status).toBe('completed');
      const output = JSON.parse(record.output!) as TaskOutput;

      // The finished worker was not run again: its commit is the one made before the kill.
      expect(output.git?.commits['db-worker']).toBe(saved.commit);
      const runs = readFileSync(runLog, 'utf8').split('\n').filter((l) => l.startsWith(`start ${id} db-worker`));
      expect(runs).toHaveLength(1);
      // The resumed worktree was reset to that commit before the other workers ran again.
      expect(again.output()).toContain(`"reset_to":"${saved.commit}"`);
      // Merged once: main holds one commit per worker of this task, none of the dead worker's writing.
      expect(output.git?.merged).toBe(gitIn(project, 'rev-parse', 'main'));
      expect(gitIn(project, 'rev-list', '--count', `${base}..main`)).toBe('3');
      expect(gitIn(project, 'log', '--format=%s', 'main').split('\n').filter((s) => s.startsWith('db-worker:'))).toHaveLength(1);
      expect(gitIn(project, 'ls-tree', '-r', '--name-only', 'main')).not.toContain('src/routes/half-written.js');
      expect(gitIn(project, 'show', 'main:src/models/user.js')).toBe(gitIn(project, 'show', `${saved.commit}:src/models/user.js`));
      expect(existsSync(join(project, 'src/routes/half-written.js'))).toBe(false);
      expect(readFileSync(join(project, 'src/models/user.js'), 'utf8')).not.toContain('broken');
      // No driver ran: not in the commits, the resumed worktree's reset, or the merge and its checkout.
      expect(readdirSync(marks).filter((f) => f.startsWith('ran-'))).toEqual([]);
      expect(existsSync(join(project, '.gitattributes'))).toBe(false);
      // The worktree is gone after the merge.
      expect(existsSync(worktree)).toBe(false);
      await new Promise((r) => setTimeout(r, 200));
      expect(publications).toBe(1);
    } finally {
      await sub.quit();
      await redis.quit();
    }
  }, 90_000);

  // A `git` first on the listener's PATH that, at one moment of the update of
  // the project folder (before or after the branch moves, before, during or
  // after read-tree writes the files), SIGKILLs the listener, and in the
  // middle of read-tree the git doing the writing too, as a kill of the whole
  // process group or cgroup would. Its mode is a file next to it: the
  // listener gives git no environment of its own.
  function killingGit(dir: string): { bin: string; set(mode: string, delay?: number): void; hit(): boolean } {
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    const real = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim();
    writeFileSync(
      join(bin, 'git'),
      `#!/bin/sh
here=$(dirname "$0")
mode=$(cat "$here/mode" 2>/dev/null)
sub=""; main=0; skip=0
for a in "$@"; do
  if [ $skip = 1 ]; then skip=0; continue; fi
  case "$a" in
    -c|--git-dir|--work-tree) [ -z "$sub" ] && skip=1 ;;
    refs/heads/main) main=1 ;;
    -*) ;;
    *) [ -z "$sub" ] && sub="$a" ;;
  esac
done
point=""
[ "$sub" = update-ref ] && [ $main = 1 ] && point=update-ref
[ "$sub" = read-tree ] && point=read-tree
case "$mode:$point" in
  before-update-ref:update-ref|before-read-tree:read-tree)
    touch "$here/hit"; kill -9 $PPID; exit 137 ;;
  after-update-ref:update-ref|after-read-tree:read-tree)
    "${real}" "$@"; touch "$here/hit"; kill -9 $PPID; exit 137 ;;
  mid-read-tree:read-tree)
    "${real}" "$@" & g=$!; sleep "$(cat "$here/delay")"; kill -9 $g $PPID; touch "$here/hit"; exit 137 ;;
esac
exec "${real}" "$@"
`,
    );
    chmodSync(join(bin, 'git'), 0o755);
    return {
      bin,
      set(mode, delay = 0) {
        rmSync(join(bin, 'hit'), { force: true });
        writeFileSync(join(bin, 'delay'), (delay / 1000).toFixed(4));
        writeFileSync(join(bin, 'mode'), mode);
      },
      hit: () => existsSync(join(bin, 'hit')),
    };
  }

  it('a SIGKILL at any moment of the update of the project folder is completed or undone by the restart: the folder ends clean at the merged commit', async () => {
    const project = await sampleProject();
    const { domain, keys } = freshDomain();
    const dir = mkdtempSync(join(tmpdir(), 'orch-crash-merge-'));
    const wrapper = killingGit(dir);
    wrapper.set('off');
    const launch = () => {
      const p = spawnOrchestrator(
        ['--redis', redisUrl(), '--domain', domain, '--agent-id', `${domain}-a`, '--project', project, '--isolation', 'worktree', '--workspace', join(dir, 'wt'), ...FAST, '--lock-ttl-ms', '1500'],
        { ORCH_SCRIPTED_LATENCY_MS: '0', PATH: `${wrapper.bin}:${process.env.PATH}` },
      );
      procs.push(p);
      return p;
    };
    const redis = client();
    const rounds: [string, number][] = [
      ['before-update-ref', 0],
      ['after-update-ref', 0],
      // (before-read-tree is the same moment as after-update-ref: nothing of ours runs between them.)
      ['mid-read-tree', Math.random() * 3],
      ['mid-read-tree', 1 + Math.random() * 6],
      ['after-read-tree', 0],
    ];
    const things = ['blog posts', 'products', 'comments', 'orders', 'invoices', 'tags', 'categories'];
    try {
      let listener = launch();
      await listener.ready;
      for (const [i, [mode, delay]] of rounds.entries()) {
        const before = gitIn(project, 'rev-parse', 'main');
        wrapper.set(mode, delay);
        const m = buildTaskMessage({ description: `Create a REST API for ${things[i]}` }, domain);
        await sendTask(redis, keys, m);
        const code = await Promise.race([listener.exited, new Promise((r) => setTimeout(() => r('still running'), 30_000))]);
        expect(code, `${mode}: the listener was killed`).not.toBe('still running');
        expect(wrapper.hit(), mode).toBe(true);
        expect(existsSync(join(project, '.git', INTENT_FILE)), `${mode}: the intent was written`).toBe(true);

        wrapper.set('off');
        listener = launch();
        await listener.ready;
        const record = await eventually(async () => {
          const h = await redis.hgetall(`results:${m.task_id}`);
          return h.status === 'completed' || h.status === 'failed' ? h : undefined;
        }, 30_000, `the result of round ${i} (${mode})`);
        const output = JSON.parse(record.output!) as TaskOutput;
        expect(output.outcome, `${mode}: ${JSON.stringify(output.issues)}`).toBe('completed');
        // The restart said what it found and did.
        expect(listener.output(), mode).toMatch(/update of main \([0-9a-f]{12}\.\.[0-9a-f]{12}\) in the project folder/);
        // Clean, at the merged commit, which holds the task on top of where main was.
        expect(gitIn(project, 'status', '--porcelain'), mode).toBe('');
        expect(gitIn(project, 'symbolic-ref', 'HEAD')).toBe('refs/heads/main');
        expect(output.git?.merged, mode).toBe(gitIn(project, 'rev-parse', 'main'));
        expect(() => gitIn(project, 'merge-base', '--is-ancestor', before, 'main')).not.toThrow();
        expect(gitIn(project, 'log', '--format=%b', `${before}..main`)).toContain(`Task-Id: ${m.task_id}`);
        expect(existsSync(join(project, '.git', INTENT_FILE)), mode).toBe(false);
        expect(existsSync(join(project, '.git', 'index.lock')), mode).toBe(false);
      }
      expect(gitIn(project, 'fsck', '--no-progress')).toBe('');
    } finally {
      await redis.quit();
    }
  }, 240_000);
});
