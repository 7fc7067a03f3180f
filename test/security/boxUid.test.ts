import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createLogger } from '../../src/logger.ts';
import { DEFAULT_BOX_USER } from '../../src/workers/sandbox/choose.ts';
import { gitIn, sampleProject } from '../support/project.ts';
import { startTestOrchestrator } from '../support/orchestrator.ts';
import { allowedHost, bash, runEscape, tool, viaProxy } from './harness.ts';

// Issue 18, item 1, through the whole listener with the process limit forced
// to `uid` (what a root listener gets in a default Docker container, where
// /sys/fs/cgroup is read-only): the box runs as an unprivileged uid, the task
// folders are opened to it by ACL. CI runs this file as root and again as an
// ordinary user, who is refused the mechanism (and needs none of it).

const root = process.getuid?.() === 0;
const { uid } = DEFAULT_BOX_USER;

/** A folder every user may enter (mkdtemp makes 0700), removed after the test. */
function openDir(prefix: string, dir = mkdtempSync(join(tmpdir(), prefix))): string {
  chmodSync(dir, 0o755);
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

if (root) describe('a root listener whose Bash box runs as an unprivileged uid', () => {
  it('holds the process limit, with no capability, as the box uid', async () => {
    const run = await runEscape(
      {
        'db-worker': {
          turns: [[
            bash('id -u; grep -E "^CapEff:" /proc/self/status'),
            bash('for i in $(seq 2000); do sleep 5 & echo $! >> started; done 2>/dev/null'),
            bash('wc -l < started'),
            bash('echo still-working'),
          ]],
        },
      },
      { over: { boxProcessLimit: 'uid', workspace: openDir('orch-ws-'), bashMaxProcesses: 48 } },
    );
    const [who, loop, counted, after] = run.tools;
    expect(who?.content).toMatch(new RegExp(`^${uid}\\nCapEff:\\t0{16}`));
    expect(loop?.isError).toBe(true);
    const started = Number(counted?.content.trim());
    expect(started).toBeGreaterThan(4);
    expect(started).toBeLessThanOrEqual(48);
    expect(after?.content).toContain('still-working');
    expect(run.status).toBe('completed');
  }, 120_000);

  it('lets Bash append to a file Write made, and Edit change a file Bash made', async () => {
    const run = await runEscape(
      {
        'db-worker': {
          turns: [
            [tool('Write', { file_path: 'written.txt', content: 'from Write\n' })],
            [bash('echo x >> written.txt && mkdir -p made && echo "from Bash" > made/by-bash.txt && stat -c "%u %a" made/by-bash.txt')],
            [tool('Edit', { file_path: 'made/by-bash.txt', old_string: 'from Bash', new_string: 'edited' })],
            [bash('cat written.txt made/by-bash.txt')],
          ],
        },
      },
      { over: { boxProcessLimit: 'uid', workspace: openDir('orch-ws-') } },
    );
    const [write, append, edit, cat] = run.tools;
    expect(write?.isError).toBe(false);
    expect(append?.isError).toBe(false);
    // Owned by the box uid; the group digit shows the ACL mask (rw), `other` gets r only.
    expect(append?.content).toMatch(new RegExp(`^${uid} 6[46]4\n`));
    expect(edit?.isError).toBe(false);
    expect(cat?.content).toBe('from Write\nx\nedited\n');
    expect(readFileSync(join(run.workspace, 'made', 'by-bash.txt'), 'utf8')).toBe('edited\n');
    expect(statSync(join(run.workspace, 'made', 'by-bash.txt')).uid).toBe(uid);
    expect(run.status).toBe('completed');
  }, 120_000);

  it('in worktree isolation, commits and merges what Bash wrote in the worktree git checked out', async () => {
    const project = openDir('', await sampleProject());
    const run = await runEscape(
      {
        'db-worker': {
          turns: [[bash('echo "-- index" > migrations/900_index.sql && echo "// touched" >> package.json && git status --short')]],
          summary: 'added an index',
        },
      },
      { over: { boxProcessLimit: 'uid', workspace: openDir('orch-ws-'), project, isolation: 'worktree' } },
    );
    const [status] = run.tools;
    expect(status?.isError).toBe(false);
    expect(status?.content).toContain('migrations/900_index.sql');
    expect(run.status).toBe('completed');
    expect(run.output.git?.merged).toBe(gitIn(project, 'rev-parse', 'main'));
    expect(gitIn(project, 'show', 'main:migrations/900_index.sql')).toBe('-- index');
    expect(gitIn(project, 'show', 'main:package.json')).toContain('// touched');
  }, 120_000);

  it('reaches an allowed host through the egress proxy socket', async () => {
    const port = await allowedHost();
    const run = await runEscape(
      {
        'db-worker': {
          turns: [[
            bash(viaProxy(`GET http://localhost:${port}/ HTTP/1.1`, `localhost:${port}`)),
          ]],
        },
      },
      { over: { boxProcessLimit: 'uid', workspace: openDir('orch-ws-'), allowDomains: [`localhost:${port}`] } },
    );
    expect(run.tools[0]?.content).toContain('hello-from-allowed-host');
  }, 90_000);

  it('refuses --isolation none, which would need ACLs on the project itself', async () => {
    const project = openDir('orch-plain-');
    await expect(
      startTestOrchestrator({ boxProcessLimit: 'uid', workspace: openDir('orch-ws-'), project, isolation: 'none' }),
    ).rejects.toThrow(/--isolation none: the Bash box runs as uid \d+.*Use --isolation worktree/);
  }, 60_000);
});

else describe('an ordinary user listener', () => {
  it('is refused the uid mechanism, and holds the limit with RLIMIT_NPROC', async () => {
    await expect(startTestOrchestrator({ boxProcessLimit: 'uid', workspace: openDir('orch-ws-') })).rejects.toThrow(
      /--box-process-limit uid: the listener runs as uid \d+, not root/,
    );
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    });
    const { orchestrator } = await startTestOrchestrator(
      { boxProcessLimit: 'rlimit', workspace: openDir('orch-ws-') },
      { logger: createLogger('info', { pretty: false, destination }) },
    );
    await orchestrator.stop();
    expect(lines.find((l) => l.includes('Bash process limit'))).toContain('"process_limit":"rlimit"');
  }, 60_000);
});
