import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished, describe, expect, it } from 'vitest';
import type { BoxEngine } from '../../src/project/openProject.ts';
import type { BoxOptions, LayerEntry } from '../../src/workers/box/types.ts';
import { probeBox, startBox } from '../../src/workers/box/index.ts';
import { bash, runEscape, tool } from '../security/harness.ts';
import { gitIn } from '../support/project.ts';

// Box isolation through the whole listener: the real SDK against the fake
// Messages API scripting each worker's tool calls, real git, the real box.

/** A git project on `main` with `extra` more tracked files, a tiny installed package (ignored) and a secret. */
function boxProject(extra = 0): string {
  const root = mkdtempSync(join(tmpdir(), 'orch-boxproject-'));
  // Removing 60,000 files (and as many git objects) takes a while on a loaded machine: off the event loop, with time.
  onTestFinished(() => rm(root, { recursive: true, force: true, maxRetries: 5 }), 180_000);
  gitIn(root, 'init', '-q', '-b', 'main');
  // No background `gc --auto` (30,000 loose objects would start one) still writing .git when the test removes it.
  gitIn(root, 'config', 'gc.auto', '0');
  mkdirSync(join(root, 'src'));
  writeFileSync(join(root, 'src/a.js'), "module.exports = 'a';\n");
  writeFileSync(join(root, 'src/old.js'), "module.exports = 'old';\n");
  writeFileSync(join(root, 'gone.txt'), 'to be deleted\n');
  writeFileSync(join(root, '.gitignore'), 'node_modules/\n*.log\n.env\n');
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'sample', version: '1.0.0', scripts: { test: 'node test.js' } }, null, 2));
  writeFileSync(join(root, 'test.js'), "const tiny = require('tiny');\nif (tiny.add(2, 3) !== 5) { console.error('tiny is broken'); process.exit(1); }\nconsole.log('all 1 tests passed');\n");
  for (let i = 0; i < extra; i++) {
    const dir = join(root, 'bulk', String(Math.floor(i / 1000)));
    if (i % 1000 === 0) mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `f${i}.js`), `exports.n = ${i};\n`);
  }
  gitIn(root, 'add', '-A', '.');
  gitIn(root, 'commit', '-qm', 'base');
  // Installed, not tracked: what a worktree never has.
  mkdirSync(join(root, 'node_modules/tiny'), { recursive: true });
  writeFileSync(join(root, 'node_modules/tiny/package.json'), JSON.stringify({ name: 'tiny', version: '1.0.0', main: 'index.js' }));
  writeFileSync(join(root, 'node_modules/tiny/index.js'), 'exports.add = (a, b) => a + b;\n');
  writeFileSync(join(root, '.env'), 'DATABASE_PASSWORD=hunter2\n');
  return root;
}

/** Entries (files, folders) under `dir`, not following links, leaving out `skip` names at its top. */
function count(dir: string, skip: string[] = []): number {
  if (!existsSync(dir)) return 0;
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => !skip.includes(e.name))
    .reduce((n, e) => n + 1 + (e.isDirectory() ? count(join(dir, e.name)) : 0), 0);
}

const why = await probeBox();

describe.skipIf(why !== undefined)('--isolation box through the whole listener', () => {
  it("a worker's writes, deletion and rename land in its commit, never in the project folder or the next task's view; npm test runs offline on the installed package", async () => {
    const project = boxProject();
    const base = gitIn(project, 'rev-parse', 'main');
    const first = await runEscape(
      {
        'db-worker': {
          turns: [
            [
              tool('Write', { file_path: 'src/models/order.js', content: "module.exports = 'order';\n" }),
              tool('Edit', { file_path: 'src/a.js', old_string: "'a'", new_string: "'A'" }),
              bash('rm gone.txt && mv src/old.js src/renamed.js && echo scratch > debug.log'),
            ],
            [bash('npm test 2>&1; echo "exit=$?"; cat .env 2>&1; (curl -sS -m 3 http://example.com || getent hosts example.com || echo no-network) 2>&1 | tail -1')],
          ],
          summary: 'order model',
        },
      },
      { description: 'Add an index to the orders table', over: { project, isolation: 'box' } },
    );
    expect(first.status).toBe('completed');
    const tools = first.tools.map((t) => t.content);
    // npm test in the box: the installed package is there, the secret and the network are not.
    expect(first.tools.slice(0, 3).filter((t) => t.isError)).toEqual([]);
    expect(tools[3]).toContain('all 1 tests passed');
    expect(tools[3]).toContain('exit=0');
    expect(tools[3]).toMatch(/No such file|not found/);
    expect(tools[3]).not.toContain('hunter2');
    expect(tools[3]).toContain('no-network');

    const commit = first.output.git?.commits['db-worker'];
    expect(commit).toBeDefined();
    expect(gitIn(project, 'rev-parse', `${commit}^`)).toBe(base);
    const tree = gitIn(project, 'ls-tree', '-r', '--name-only', commit!).split('\n');
    expect(tree).toContain('src/models/order.js');
    expect(tree).toContain('src/renamed.js');
    expect(gitIn(project, 'show', `${commit}:src/a.js`)).toBe("module.exports = 'A';");
    expect(tree).not.toContain('src/old.js');
    expect(tree).not.toContain('gone.txt');
    expect(tree).not.toContain('debug.log'); // ignored: left out, as git add would
    expect(gitIn(project, 'diff', '-M', '--name-status', base, commit!)).toMatch(/^R100\tsrc\/old\.js\tsrc\/renamed\.js$/m);
    // The project folder got the work by the merge only: the ignored scratch file never reached it.
    expect(first.output.git?.merged).toBe(gitIn(project, 'rev-parse', 'main'));
    expect(existsSync(join(project, 'src/models/order.js'))).toBe(true);
    expect(existsSync(join(project, 'debug.log'))).toBe(false);
    expect(gitIn(project, 'status', '--porcelain')).toBe('');
    expect(gitIn(project, 'worktree', 'list')).not.toContain('\n');
  }, 90_000);

  it("the next task's box sees what the last one merged (a new layer), not its scratch files", async () => {
    const project = boxProject();
    const over = { project, isolation: 'box' as const };
    const first = await runEscape(
      { 'db-worker': { turns: [[tool('Write', { file_path: 'src/models/order.js', content: 'order\n' }), bash('echo scratch > debug.log && rm gone.txt')]] } },
      { description: 'Add an index to the orders table', over },
    );
    expect(first.status).toBe('completed');
    const second = await runEscape(
      { 'db-worker': { turns: [[bash('cat src/models/order.js; ls gone.txt debug.log 2>&1 | sort')]] } },
      { description: 'Add an index to the orders table', over },
    );
    expect(second.status).toBe('completed');
    const seen = second.tools[0]!.content;
    expect(seen).toContain('order');
    expect(seen).toMatch(/gone\.txt.*No such file/);
    expect(seen).toMatch(/debug\.log.*No such file/);
  }, 90_000);

  it('setting up a task costs the same on a 30,000-file project as on a 30-file one: nothing is copied per task', async () => {
    const measure = async (extra: number) => {
      const project = boxProject(extra);
      const seen: { lower: number; layer: LayerEntry[]; workspace: number }[] = [];
      let workspace = '';
      const engine: BoxEngine = {
        probe: probeBox,
        start: async (o: BoxOptions) => {
          const box = await startBox(o);
          // What a task's setup wrote: its layer (on the box's tmpfs) and, on disk, anything under the workspace but the listener's one snapshot.
          seen.push({ lower: o.lower.length, layer: await box.layer(), workspace: count(workspace, ['.layers']) });
          return box;
        },
      };
      const run = await runEscape(
        { 'db-worker': { turns: [[bash('true')]] } },
        { description: 'Add an index to the orders table', over: { project, isolation: 'box' }, orchestrator: { boxEngine: engine }, before: (ws) => (workspace = ws) },
      );
      expect(run.status).toBe('completed');
      expect(gitIn(project, 'ls-files').split('\n').length).toBeGreaterThanOrEqual(extra);
      return seen;
    };
    const small = await measure(24);
    const large = await measure(30_000);
    expect(small).toHaveLength(1);
    expect(large).toEqual(small);
    expect(small[0]).toEqual({ lower: 1, layer: [], workspace: small[0]!.workspace });
    expect(small[0]!.workspace).toBeLessThanOrEqual(2);
  }, 300_000);

  it('falls back to worktrees when the box cannot start here, and says why at start-up', async () => {
    const project = boxProject();
    const lines: string[] = [];
    const { pino } = await import('pino');
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
    const engine: BoxEngine = { start: startBox, probe: async () => 'unshare: not found on PATH' };
    const run = await runEscape(
      { 'db-worker': { turns: [[tool('Write', { file_path: 'src/x.js', content: 'x\n' })]] } },
      { description: 'Add an index to the orders table', over: { project, logLevel: 'info' }, orchestrator: { boxEngine: engine, logger } },
    );
    expect(run.status).toBe('completed');
    const warned = lines.map((l) => JSON.parse(l) as { msg: string; reason?: string }).find((l) => /no task boxes here/.test(l.msg));
    expect(warned?.reason).toBe('unshare: not found on PATH');
    expect(warned?.msg).toMatch(/--isolation worktree/);
    expect(lines.some((l) => /tasks work in git worktrees/.test(l))).toBe(true);
  }, 90_000);
});

