import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EMAIL_BUG } from '../../src/models/scriptedApp.ts';
import { runCli } from '../support/cli.ts';
import { gitIn } from '../support/project.ts';

// The demo of verified results, end to end through the real CLI: the sample
// project's `node --test` runs in each task's box before its merge; the
// stand-in's first registration has a bug the check catches, the fix round
// mends it through the Edit tool, the check passes on its second run, and
// only the fixed code is merged.

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('demo with checks', () => {
  it('shows node --test failing on the first try and passing after the fix round, merges the fixed code and exits 0', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'orch-demochecks-cwd-'));
    const tmp = mkdtempSync(join(tmpdir(), 'orch-demochecks-tmp-'));
    dirs.push(cwd, tmp);
    const env = { PATH: process.env.PATH, HOME: cwd, TMPDIR: tmp, ORCH_SCRIPTED_LATENCY_MS: 'db-worker=1,api-worker=1,auth-worker=1' };
    const demo = await runCli(['demo', '--keep'], env, cwd);
    const said = demo.stdout + demo.stderr;
    expect(demo.status, said).toBe(0);
    expect(demo.stdout).toMatch(/^checks: node --test in each task's box before its merge \(the stand-in's first registration has a bug/m);
    expect(demo.stdout).not.toContain('not a clean run');

    // Registration: the check ran twice (failed, then passed after the fix round), the state machine went through fixing.
    const [registration, ...others] = demo.stdout.split(/^(?=Create user registration endpoint$|Add role-based access to admin routes$|Create a REST API for blog posts with authentication$)/m).slice(1);
    expect(registration, said).toMatch(/^ {2}checks: {2}✓ node --test · passed · exit 0 · [\d.]+s · 2 rounds$/m);
    const id = /^sent ([0-9a-f]{8}): Create user registration endpoint$/m.exec(demo.stdout)![1]!;
    expect(demo.stdout).toMatch(new RegExp(`^ {2}${id} .*task machine: verifying → fixing`, 'm'));
    expect(demo.stdout).toMatch(new RegExp(`^ {2}${id} .*task machine: fixing → verifying`, 'm'));
    // The other two tasks pass theirs on the first run.
    expect(others).toHaveLength(2);
    for (const block of others) expect(block, said).toMatch(/^ {2}checks: {2}✓ node --test · passed · exit 0 · [\d.]+s · 1 round$/m);

    // The project: the bug was written, then replaced by the fix in a commit of its own; main holds the fix.
    const project = join(/^kept (\S+)$/m.exec(demo.stdout)![1]!, 'project');
    expect(readFileSync(join(project, EMAIL_BUG.path), 'utf8')).toContain(EMAIL_BUG.fix);
    const history = gitIn(project, 'log', '-p', '--format=%s', 'main', '--', EMAIL_BUG.path);
    expect(history).toContain(`+${EMAIL_BUG.bug}`);
    expect(history).toContain(`-${EMAIL_BUG.bug}`);
    expect(history).toContain(`+${EMAIL_BUG.fix}`);
  }, 300_000);
});
