import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { taskDirName } from '../../src/workers/taskDirName.ts';
import { bash, runEscape, tool } from './harness.ts';

// Issue 18: a folder of 400,000 files made the listener walk and sort it on
// its main thread around every Bash call (/healthz took over a second).
// The walks now run in worker threads with limits; through the whole
// listener, /healthz answers all along and the Bash result says what went
// unrecorded.

describe("a worker's huge folder does not hold the listener", () => {
  it('Bash, Glob and the survey over 150,000 files in one folder: /healthz never misses, and the cut is reported', async () => {
    const taskId = `walks-${randomUUID().slice(0, 8)}`;
    const run = await runEscape(
      {
        'db-worker': {
          turns: [[
            bash('echo made > made.txt && ls bulk | wc -l'),
            tool('Glob', { pattern: 'bulk/*' }),
            bash('rm bulk/1 && echo removed'),
          ]],
        },
      },
      {
        taskId,
        // Put there before the task starts, as a project or an earlier run could have.
        before: (workspaceRoot) => {
          const ws = join(workspaceRoot, taskDirName(taskId));
          mkdirSync(join(ws, 'bulk'), { recursive: true });
          onTestFinished(() => rmSync(ws, { recursive: true, force: true }));
          execFileSync('bash', ['-c', 'seq 1 150000 | xargs touch'], { cwd: join(ws, 'bulk') });
        },
      },
    );
    const [made, glob, removed] = run.tools;
    expect(made?.isError).toBe(false);
    expect(made?.content).toMatch(/^150000\n/);
    // The folder holds more names than a walk looks at (walkMaxEntries, 100,000): it is not tracked, and the result says so.
    expect(made?.content).toMatch(/Note: the workspace is too large to track this command's file changes in full: it stops after 100000 files and folders .*stopped at "bulk\/"/);
    expect(glob?.content).toMatch(/… 149900 more: narrow the pattern$/);
    expect(removed?.content).toMatch(/^removed\n\nNote: the workspace is too large/);
    // What lies before the cut is recorded: made.txt, at the top, is in the result; the deletion in bulk/ is not.
    expect(run.output.files_created.some((f) => f.endsWith('made.txt'))).toBe(true);
    expect(JSON.stringify(run.output)).not.toContain('bulk/1');
    expect(run.status).toBe('completed');
    expect(run.health.missed).toBe(0);
    expect(run.health.answered).toBeGreaterThan(0);
  }, 180_000);
});
