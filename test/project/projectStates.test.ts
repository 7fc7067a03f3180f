import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig, type ConfigInput } from '../../src/config.ts';
import { ConfigError } from '../../src/errors.ts';
import { ProjectError } from '../../src/git/projectError.ts';
import { startTestOrchestrator } from '../support/orchestrator.ts';
import { gitIn, sampleProject, startOnProject } from '../support/project.ts';
import { runCli } from '../support/cli.ts';
import { redisUrl } from '../support/redis.ts';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const start = (over: ConfigInput, latencyMs = 0) => startOnProject(over, cleanups, { latencyMs });

/** A project left in the middle of a conflicted `git merge`. */
async function projectMidMerge(): Promise<string> {
  const project = await sampleProject();
  gitIn(project, 'switch', '-q', '-c', 'other');
  writeFileSync(join(project, 'src/app.js'), 'other side\n');
  gitIn(project, 'commit', '-qam', 'other');
  gitIn(project, 'switch', '-q', 'main');
  writeFileSync(join(project, 'src/app.js'), 'main side\n');
  gitIn(project, 'commit', '-qam', 'main');
  try {
    gitIn(project, 'merge', 'other');
  } catch {
    // the conflict is the point
  }
  expect(existsSync(join(project, '.git/MERGE_HEAD'))).toBe(true);
  return project;
}

describe('--project: projects in states the orchestrator must not work on as is', () => {
  it('refuses to start on a project in the middle of a merge, saying so', async () => {
    const project = await projectMidMerge();
    const error = await startTestOrchestrator({ project }).then(
      (t) => t.orchestrator.stop().then(() => undefined),
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ProjectError);
    expect((error as Error).message).toMatch(/in the middle of a merge on main: finish it or abort it/);
    // From the command line: exit code 2 and the message, no stack.
    const cli = await runCli(['start', '--redis', redisUrl(), '--model', 'scripted', '--project', project, '--workspace', mkdtempSync(join(tmpdir(), 'orch-ws-'))]);
    expect(cli.status).toBe(2);
    expect(cli.stderr).toMatch(/^backend-orchestrator: --project .* is in the middle of a merge on main/m);
  });

  it('refuses --isolation worktree on a folder that is not a git repository, saying what to do', async () => {
    const project = mkdtempSync(join(tmpdir(), 'orch-plain-'));
    const error = await startTestOrchestrator({ project, isolation: 'worktree' }).then(
      (t) => t.orchestrator.stop().then(() => undefined),
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ProjectError);
    expect((error as Error).message).toMatch(/is not a git repository: run `git init/);
  });

  it('works in a plain folder in place (isolation none by default), files relative and absolute, no git object', async () => {
    const project = mkdtempSync(join(tmpdir(), 'orch-plain-'));
    const { send, result } = await start({ project });
    const r = await result(await send('Create a REST API for blog posts'));
    expect(r.record.status).toBe('completed');
    expect(r.output.git).toBeUndefined();
    expect(r.output.workspace).toBe(r.output.project);
    expect(r.output.files_created).toContain('src/routes/posts.js');
    for (const f of r.output.files_created_abs ?? []) expect(existsSync(f), f).toBe(true);
    expect(r.output.files_created_abs).toContain(join(r.output.project!, 'src/routes/posts.js'));
  });

  it('rejects --isolation worktree without --project, and a worktree folder inside the project', async () => {
    expect(() => loadConfig({ isolation: 'bogus' } as unknown as ConfigInput, {})).toThrow(/isolation: /);
    const missing = await startTestOrchestrator({ isolation: 'worktree' }).then(
      (t) => t.orchestrator.stop().then(() => undefined),
      (e: unknown) => e,
    );
    expect(missing).toBeInstanceOf(ConfigError);
    expect((missing as Error).message).toMatch(/--isolation worktree needs --project/);
    const project = await sampleProject();
    const inside = await startTestOrchestrator({ project, workspace: join(project, 'wt') }).then(
      (t) => t.orchestrator.stop().then(() => undefined),
      (e: unknown) => e,
    );
    expect(inside).toBeInstanceOf(ProjectError);
    expect((inside as Error).message).toMatch(/is inside --project/);
  });

  it('defaults the worktree folder outside the project when --workspace is not given', () => {
    const config = loadConfig({ project: '/srv/app' }, {});
    expect(config.workspace.startsWith('/srv/app')).toBe(false);
    expect(loadConfig({}, { PROJECT_DIR: '/srv/app' }).project).toBe('/srv/app');
  });
});

describe('--isolation none', () => {
  it('runs the tasks of one project one at a time, even with concurrency 4', async () => {
    const project = await sampleProject();
    const { send, result, calls } = await start({ project, isolation: 'none', concurrency: 4 }, 60);
    const ids = await Promise.all(['blog posts', 'products', 'orders', 'invoices'].map((what) => send(`Create a REST API for ${what}`)));
    const results = await Promise.all(ids.map(result));
    for (const r of results) {
      expect(r.record.status).toBe('completed');
      expect(r.output.git).toBeUndefined();
    }
    // Each task's model calls form one unbroken run: no task's call comes between another's first and last.
    const order = calls.filter((c) => c.caller !== 'planner').map((c) => c.taskId);
    const spans = ids.map((id) => [order.indexOf(id), order.lastIndexOf(id)] as const);
    for (const [i, [from, to]] of spans.entries()) {
      expect(from, `task ${i} ran`).toBeGreaterThanOrEqual(0);
      expect(order.slice(from, to + 1).every((t) => t === ids[i]), `task ${i} ran alone: ${order.join(' ')}`).toBe(true);
    }
    // In place: the files are in the project folder itself.
    for (const f of ['src/routes/posts.js', 'src/routes/products.js', 'src/routes/orders.js', 'src/routes/invoices.js']) {
      expect(existsSync(join(project, f)), f).toBe(true);
    }
  });
});
