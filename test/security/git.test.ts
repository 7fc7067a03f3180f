import { existsSync, mkdtempSync, readdirSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.ts';
import { gitIn, sampleProject } from '../support/project.ts';
import { bash, runEscape } from './harness.ts';

// Issue 18, items 2, 3 and 6 (files_deleted), through the whole listener on a
// git project: the fake Messages API scripts the worker, Bash runs in the
// real sandbox, the orchestrator commits and merges with the host's git.

function expectHealthy(health: { answered: number; missed: number }): void {
  expect(health.missed).toBe(0);
  expect(health.answered).toBeGreaterThan(0);
}

describe('the project side of a task trusts nothing a worker wrote', () => {
  it('merges no repository a worker made, commits no bogus deletion, and runs no filter of its .gitattributes', async () => {
    const project = await sampleProject();
    // As if an attacker had got drivers into the project's config: each leaves a marker when run.
    const marks = realpathSync(mkdtempSync(join(tmpdir(), 'orch-marks-')));
    const script = join(marks, 'driver.sh');
    writeFileSync(script, `#!/bin/sh\ntouch "${marks}/ran-$1"\ncat\n`, { mode: 0o755 });
    gitIn(project, 'config', 'filter.x.clean', `${script} clean`);
    gitIn(project, 'config', 'filter.x.smudge', `${script} smudge`);
    gitIn(project, 'config', 'merge.x.driver', `${script} merge`);
    const run = await runEscape(
      {
        'db-worker': {
          turns: [[
            bash(
              'mkdir -p sub/objects/info sub/refs/heads && echo "ref: refs/heads/main" > sub/HEAD && ' +
                `printf '[core]\\n\\tbare = false\\n\\tworktree = ..\\n\\tfsmonitor = ${marks}/fsmonitor.sh\\n' > sub/config && ` +
                'echo > sub/objects/info/packs && echo 0000000000000000000000000000000000000000 > sub/refs/heads/main && ' +
                "echo '*.js filter=x merge=x' > .gitattributes && echo 'export const ok = 1;' > src/ok.js && ln -s src lnk && echo done",
            ),
          ]],
          // The model's own list: a folder, a path beyond a symlink, a file that is still there.
          report: { files_deleted: ['src', 'lnk/app.js', 'package.json'] },
        },
      },
      { over: { project, isolation: 'worktree' } },
    );
    expect(run.tools[0]?.content).toContain('done');
    expect(run.status).toBe('completed');
    expect(run.output.outcome).toBe('completed_with_warnings');
    expect(run.output.git?.merged).toBe(gitIn(project, 'rev-parse', 'main'));
    const tree = gitIn(project, 'ls-tree', '-r', '--name-only', 'main').split('\n');
    expect(tree).toContain('src/ok.js');
    expect(tree).toContain('.gitattributes');
    expect(tree).toContain('src/app.js');
    expect(tree).toContain('package.json');
    expect(tree.filter((f) => f.startsWith('sub/'))).toEqual([]);
    expect(existsSync(join(project, 'sub'))).toBe(false);
    expect(existsSync(join(project, 'src/ok.js'))).toBe(true);
    const issues = run.output.issues.join('\n');
    expect(issues).toMatch(/db-worker: sub is a git repository inside the project \(HEAD, objects\/ and refs\/\): its 4 file\(s\)/);
    expect(issues).toMatch(/db-worker: deletions ignored: .*src \(not a tracked file/);
    expect(issues).toContain('lnk/app.js (not a tracked file');
    expect(issues).toContain('package.json (still in the worktree)');
    // Neither the worker's commit, the merge nor the checkout of the project folder ran a driver.
    expect(readdirSync(marks).filter((f) => f !== 'driver.sh')).toEqual([]);
    expectHealthy(run.health);
  }, 90_000);
});

describe('the box sees no credentials of the project', () => {
  it("a token in a remote URL is in no tool result, result or log line, and git log still works in the box", async () => {
    const token = 'tok-SECRET123';
    const project = await sampleProject();
    gitIn(project, 'remote', 'add', 'origin', `https://deploy:${token}@example.invalid/x.git`);
    gitIn(project, 'config', 'url.https://deploy:tok-INSTEADOF456@example.invalid/.insteadOf', 'https://mirror.invalid/');
    const commonDir = realpathSync(join(project, '.git'));
    const lines: string[] = [];
    const destination = new PassThrough();
    destination.on('data', (chunk: Buffer) => lines.push(chunk.toString('utf8')));
    const logger = createLogger('debug', { pretty: false, destination });
    const run = await runEscape(
      {
        'db-worker': {
          turns: [[
            bash(`cat ${commonDir}/config; echo ---; git config --list; echo ---; git remote -v; echo ---; ls ${commonDir}`),
            bash('git log --oneline | tail -1; git status --short | head -3; echo status-done'),
            bash(`cat ${commonDir}/logs/HEAD ${commonDir}/FETCH_HEAD; ls ${commonDir}/worktrees`),
          ]],
        },
      },
      { over: { project, isolation: 'worktree' }, orchestrator: { logger } },
    );
    logger.info(`late line quoting https://deploy:${token}@example.invalid and tok-INSTEADOF456`);
    const [config, log, others] = run.tools;
    expect(config?.content).toContain("backend-orchestrator for its sandbox: the project's format settings only");
    expect(config?.content).not.toMatch(/remote|url =|insteadof/i);
    expect(log?.content).toMatch(/^[0-9a-f]{7,} Sample Express app/m);
    expect(log?.content).toContain('status-done');
    expect(others?.content).toMatch(/No such file or directory/);
    const everything = [JSON.stringify(run.requests), JSON.stringify(run.output), lines.join('')].join('\n');
    expect(everything).not.toContain(token);
    expect(everything).not.toContain('tok-INSTEADOF456');
    expect(lines.join('')).toContain('[redacted]');
    expect(run.status).toBe('completed');
    expectHealthy(run.health);
  }, 90_000);
});
