import { afterEach, describe, expect, it } from 'vitest';
import { buildTaskMessage, sendTask } from '../../src/client/send.ts';
import { readOverview } from '../../src/client/overview.ts';
import type { ConfigInput } from '../../src/config.ts';
import { FIX_ROUND_HEADING } from '../../src/protocol/checks.ts';
import type { TaskOutput } from '../../src/protocol/output.ts';
import { fixingModel } from '../support/fixingModel.ts';
import { startTestOrchestrator } from '../support/orchestrator.ts';
import { gitIn, sampleProject } from '../support/project.ts';
import { client, eventually } from '../support/redis.ts';

// The project's checks through the whole listener: the scripted model (a fix
// round writes FIXED), real Redis, the real project under git, the box (or
// worktrees where the kernel allows no box), real commands.

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function run(over: ConfigInput, description = 'Create user registration endpoint', seen: Set<string> = new Set()) {
  const project = await sampleProject();
  const base = gitIn(project, 'rev-parse', 'main');
  const fixing = fixingModel();
  const t = await startTestOrchestrator({ project, ...over }, { model: fixing.model });
  const redis = client();
  cleanups.push(() => redis.quit(), () => t.orchestrator.stop());
  const m = buildTaskMessage({ description }, t.config.domain);
  await sendTask(redis, t.keys, m);
  const record = await eventually(async () => {
    // What `watch` shows of the task meanwhile.
    for (const task of (await readOverview(redis, t.keys, t.config.domain)).tasks) if (task.taskId === m.task_id) seen.add(task.state);
    const h = await redis.hgetall(`results:${m.task_id}`);
    return h.status === 'completed' || h.status === 'failed' ? h : undefined;
  }, 90_000, 'the task result');
  const logs = await redis.lrange(`results:${m.task_id}:logs`, 0, -1);
  return { project, base, record, output: JSON.parse(record.output!) as TaskOutput, logs, fixPrompts: fixing.fixPrompts };
}

const FIX_CHECK = 'test -f FIXED || { echo "FAIL: FIXED is missing"; exit 1; }';

describe('checks (--verify) through the listener', () => {
  it('a check that passes: completed, merged, the check in the output and the log', async () => {
    const r = await run({ verify: ['test -f package.json && echo all good'] });
    expect(r.output.outcome).toMatch(/^completed/);
    expect(r.output.checks).toEqual([expect.objectContaining({ command: 'test -f package.json && echo all good', passed: true, exit_code: 0, rounds: 1, output_tail: 'all good' })]);
    expect(r.output.git?.merged).toBeTruthy();
    expect(r.fixPrompts).toHaveLength(0);
    expect(r.logs.join('\n')).toMatch(/verifying: test -f package.json && echo all good passed/);
  }, 120_000);

  it('a check that fails, then passes after one fix round: the fix is committed and merged; watch shows the task verifying', async () => {
    const seen = new Set<string>();
    const r = await run({ verify: [`sleep 1; ${FIX_CHECK}`], fixRounds: 2 }, 'Create user registration endpoint', seen);
    expect([...seen]).toContain('verifying');
    expect(r.output.checks).toEqual([expect.objectContaining({ passed: true, exit_code: 0, rounds: 2 })]);
    expect(r.output.outcome).toMatch(/^completed/);
    expect(r.output.git?.merged).toBeTruthy();
    expect(gitIn(r.project, 'show', 'main:FIXED')).toBe('fixed');
    // The fix round's prompt carried the failure, with its command and output.
    expect(r.fixPrompts.length).toBeGreaterThan(0);
    expect(r.fixPrompts[0]).toContain(FIX_ROUND_HEADING);
    expect(r.fixPrompts[0]).toContain(`$ sleep 1; ${FIX_CHECK}`);
    expect(r.fixPrompts[0]).toContain('FAIL: FIXED is missing');
    const log = r.logs.join('\n');
    expect(log).toMatch(/verifying: .* failed \(exit 1\)/);
    expect(log).toMatch(/fix round 1\/2: [a-z]+-worker/);
    expect(Object.values(r.output.details).some((d) => d?.files_created?.includes('FIXED'))).toBe(true);
  }, 120_000);

  it('a check that keeps failing: completed_with_warnings, issues say why, not merged', async () => {
    const r = await run({ verify: ['echo "1 test failed: users.test.js"; exit 1'], fixRounds: 1 });
    expect(r.record.status).toBe('completed');
    expect(r.output.outcome).toBe('completed_with_warnings');
    expect(r.output.checks).toEqual([expect.objectContaining({ passed: false, exit_code: 1, rounds: 2 })]);
    expect(r.output.issues.join('\n')).toMatch(/check failed after 2 runs: `echo "1 test failed: users.test.js"; exit 1` \(exit code 1\): 1 test failed: users.test.js/);
    expect(r.output.issues.join('\n')).toMatch(/not merged: checks failed/);
    expect(r.output.git?.merged).toBeNull();
    expect(gitIn(r.project, 'rev-parse', 'main')).toBe(r.base);
  }, 120_000);

  it('a check that hangs is killed at its time limit, one that is not installed says so; --merge-failing merges anyway', async () => {
    const r = await run({ verify: ['echo waiting; sleep 600', 'no-such-check-tool --all'], verifyTimeoutMs: 1000, fixRounds: 0, mergeFailing: true });
    const [hung, missing] = r.output.checks!;
    expect(hung).toMatchObject({ passed: false, exit_code: null, rounds: 1 });
    expect(hung!.error).toMatch(/time limit of 1 s reached/);
    expect(hung!.output_tail).toContain('waiting');
    expect(missing).toMatchObject({ passed: false, exit_code: 127 });
    expect(missing!.error).toMatch(/command not found: no-such-check-tool/);
    expect(r.output.outcome).toBe('completed_with_warnings');
    expect(r.output.git?.merged).toBeTruthy();
    expect(gitIn(r.project, 'rev-parse', 'main')).not.toBe(r.base);
  }, 120_000);
});
