import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bash, outsideDir, runEscape, tool } from './harness.ts';

const WRITES_PER_TURN = 500;

/** Swaps d between a folder and a link to `out` until a file named stop appears; repairs what the writer's mkdir races. */
function swapper(out: string): string {
  return [
    'const fs = require("fs"); let n = 0;',
    'fs.mkdirSync("d", { recursive: true });',
    `fs.symlinkSync(${JSON.stringify(out)}, "l"); fs.writeFileSync("started", "");`,
    'while (!fs.existsSync("stop")) {',
    '  try { fs.renameSync("d", "x"); fs.renameSync("l", "d"); fs.renameSync("d", "l"); fs.renameSync("x", "d"); n++; }',
    '  catch {',
    '    try { if (fs.lstatSync("d").isSymbolicLink()) fs.renameSync("d", "l"); } catch {}',
    '    try { fs.lstatSync("d"); fs.rmSync("x", { recursive: true, force: true }); } catch { try { fs.renameSync("x", "d"); } catch { fs.mkdirSync("d", { recursive: true }); } }',
    `    try { fs.lstatSync("l"); } catch { fs.symlinkSync(${JSON.stringify(out)}, "l"); }`,
    '  }',
    '}',
    'console.log(`swapped ${n} times`);',
  ].join(' ');
}
const TURNS = 4;

describe('two workers of one task in one workspace', () => {
  it('a folder swapped for a symlink mid-write never lands a write outside (2000 writes)', async () => {
    const out = outsideDir();
    const writes = Array.from({ length: TURNS }, (_, turn) =>
      Array.from({ length: WRITES_PER_TURN }, (_, i) => tool('Write', { file_path: 'd/f.txt', content: `write ${turn}.${i}\n` })),
    );
    const run = await runEscape(
      {
        // The swapper: d is a folder, then for a moment a link to the outside folder, again and again
        // (node inside the sandbox: renames without a fork each, so the window is wide open).
        'api-worker': {
          turns: [[bash(`node -e '${swapper(out)}'`, 60_000)]],
        },
        // The writer starts once the swapper runs, writes through d, then stops it.
        'auth-worker': {
          turns: [
            [bash('for i in $(seq 1000); do [ -e started ] && break; sleep 0.01; done; echo ready')],
            ...writes,
            [bash('touch stop; echo stopped')],
          ],
        },
      },
      { description: 'Add login endpoint' },
    );
    expect(readdirSync(out)).toEqual([]);
    const results = run.tools.filter((t) => t.content.startsWith('Write failed') || /^(Created|Overwrote) d\/f\.txt/.test(t.content));
    expect(results).toHaveLength(TURNS * WRITES_PER_TURN);
    const refused = results.filter((t) => t.isError);
    // Some writes met the link (the race was live); none of them went through it.
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.length).toBeLessThan(results.length);
    for (const r of refused) expect(r.content).toMatch(/outside the workspace|changed while it was being (opened|resolved)|does not exist/);
    expect(run.tools.some((t) => /swapped \d+ times/.test(t.content))).toBe(true);
    expect(readFileSync(join(run.workspace, 'd', 'f.txt'), 'utf8')).toMatch(/^write \d\.\d+\n$/);
    expect(run.health.missed).toBe(0);
    expect(run.health.answered).toBeGreaterThan(0);
  }, 120_000);

  it('task ids that once shared a folder (a/b, a_b, a?b) each get their own, unseen by the others', async () => {
    const root = outsideDir();
    mkdirSync(root, { recursive: true });
    const seen: string[] = [];
    const workspaces: string[] = [];
    for (const id of ['a/b', 'a_b', 'a?b']) {
      const run = await runEscape(
        {
          'db-worker': {
            turns: [[bash('cat mine.txt 2>/dev/null || echo none; ls -a .. | tr "\\n" " "'), tool('Write', { file_path: 'mine.txt', content: id })]],
          },
        },
        { taskId: id, over: { workspace: root } },
      );
      seen.push(run.tools[0]?.content ?? '');
      workspaces.push(run.workspace);
      expect(readFileSync(join(run.workspace, 'mine.txt'), 'utf8')).toBe(id);
    }
    expect(new Set(workspaces).size).toBe(3);
    for (const s of seen) {
      expect(s).toMatch(/^none\n/);
      // The sandbox shows the parent as an empty mount point: no other task's folder.
      expect(s.trim().split(/\s+/).slice(1).filter((e) => e !== '.' && e !== '..')).toHaveLength(1);
    }
  }, 120_000);
});
