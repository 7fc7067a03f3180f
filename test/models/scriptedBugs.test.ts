import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createSampleProject } from '../../src/cli/demoProject.ts';
import { loadConfig } from '../../src/config.ts';
import { createScriptedModel } from '../../src/models/scripted.ts';
import { EMAIL_BUG } from '../../src/models/scriptedApp.ts';
import type { ModelClient } from '../../src/models/types.ts';
import { FIX_ROUND_HEADING } from '../../src/protocol/checks.ts';
import type { WorkerName } from '../../src/protocol/output.ts';
import { runAgentLoop } from '../../src/workers/agentLoop.ts';
import { Workspace } from '../../src/workers/workspace.ts';
import { agent, BASH, tempDir } from '../workers/fixtures.ts';

// The stand-in plays "write the bug, then the fix" for the demo of `--verify`:
// through the real agent loop and the real file tools, on the demo's sample
// project, judged by the sample project's own `node --test`.

const TASK = '# Task t1\nCreate user registration endpoint\n\n- auth-worker, runs first\n- api-worker (you), runs after auth-worker\n';

/** The sample project, as a worker's workspace. */
async function sample(): Promise<Workspace> {
  const dir = path.join(await tempDir('orch-bugs-'), 'project');
  await createSampleProject(dir);
  return Workspace.open(dir);
}

/** One worker run of the scripted model through the agent loop and its tools; the tool calls it made, as `Tool path`. */
async function work(model: ModelClient, workspace: Workspace, worker: WorkerName, prompt: string) {
  const tools: string[] = [];
  const result = await runAgentLoop({
    agent: agent(worker),
    prompt,
    model: {
      kind: 'scripted',
      async createMessage(params, options) {
        const answer = await model.createMessage(params, options);
        for (const b of answer.content) if (b.type === 'tool_use') tools.push(`${b.name} ${String((b.input as { file_path?: string; pattern?: string }).file_path ?? (b.input as { pattern?: string }).pattern)}`);
        return answer;
      },
    },
    modelId: 'claude-sonnet-4-5',
    workspace,
    signal: new AbortController().signal,
    maxTurns: 10,
    tokenBudget: 1_000_000,
    maxTokens: 1024,
    bash: BASH,
    caller: worker,
  });
  return { ...result, tools };
}

/** The sample project's own tests: exit code and output. */
async function nodeTest(workspace: Workspace): Promise<{ code: number; output: string }> {
  return promisify(execFile)(process.execPath, ['--test'], { cwd: workspace.root, env: { PATH: process.env.PATH } }).then(
    ({ stdout }) => ({ code: 0, output: stdout }),
    (error: { code?: number; stdout?: string }) => ({ code: typeof error.code === 'number' ? error.code : 1, output: error.stdout ?? '' }),
  );
}

const fixPrompt = `${TASK}\n${FIX_ROUND_HEADING}\n\n$ node --test\nexit code 1\nnot ok 1 - registration answers a valid sign-up with a token, and refuses a malformed email, name or password\n`;

describe('the scripted stand-in with its planted bug', () => {
  it('writes registration with the email bug, which the sample project test catches; a fix round mends it through Read and Edit, and the test passes', async () => {
    const workspace = await sample();
    const model = createScriptedModel({ latencyMs: () => 0, fail: new Set(), bug: true });
    await work(model, workspace, 'auth-worker', TASK);
    const first = await work(model, workspace, 'api-worker', TASK);
    const routes = () => readFile(path.join(workspace.root, EMAIL_BUG.path), 'utf8');
    expect(await routes()).toContain(EMAIL_BUG.bug);
    expect(await routes()).not.toContain(EMAIL_BUG.fix);
    const written = await routes();
    const failing = await nodeTest(workspace);
    expect(failing.code).not.toBe(0);
    expect(failing.output).toContain('the email "ada@example" was taken by src/routes/users.js');

    const fix = await work(model, workspace, 'api-worker', fixPrompt);
    // It looks, reads the file, and changes the one line with an Edit: no rewrite of the file.
    expect(fix.tools).toEqual([expect.stringMatching(/^Glob /), 'Glob migrations/*.sql', `Read ${EMAIL_BUG.path}`, `Edit ${EMAIL_BUG.path}`]);
    expect(fix.changes.modified).toEqual([EMAIL_BUG.path]);
    expect(fix.changes.created).toEqual([]);
    expect(fix.finalText).toContain('Fixed the email check of POST /api/users/register');
    // Only that line changed: the rest of what the first run wrote is there as it was.
    expect(await routes()).toBe(written.replace(EMAIL_BUG.bug, EMAIL_BUG.fix));
    expect(first.changes.modified).toEqual([EMAIL_BUG.path]);
    const passing = await nodeTest(workspace);
    expect(passing.code, passing.output).toBe(0);
    expect(passing.output).toMatch(/^# skipped 0$/m);
  }, 60_000);

  it('without the opt-in it writes the right check at once, and a fix round there changes nothing', async () => {
    const workspace = await sample();
    const model = createScriptedModel({ latencyMs: () => 0, fail: new Set() });
    await work(model, workspace, 'auth-worker', TASK);
    await work(model, workspace, 'api-worker', TASK);
    expect(await readFile(path.join(workspace.root, EMAIL_BUG.path), 'utf8')).toContain(EMAIL_BUG.fix);
    const tests = await nodeTest(workspace);
    expect(tests.code, tests.output).toBe(0);
    const fix = await work(model, workspace, 'api-worker', fixPrompt);
    expect(fix.tools.filter((t) => t.startsWith('Edit') || t.startsWith('Write'))).toEqual([]);
    expect(fix.changes.modified).toEqual([]);
    expect(fix.finalText).toContain('changed nothing for the failing checks');
  }, 60_000);

  it('is asked for with ORCH_SCRIPTED_BUG=1 or scripted.bug, off by default, and a bad value is refused by name', () => {
    expect(loadConfig({ model: 'scripted' }, {}).scripted.bug).toBe(false);
    expect(loadConfig({ model: 'scripted' }, { ORCH_SCRIPTED_BUG: '1' }).scripted.bug).toBe(true);
    expect(loadConfig({ model: 'scripted', scripted: { bug: true } }, {}).scripted.bug).toBe(true);
    expect(() => loadConfig({ model: 'scripted' }, { ORCH_SCRIPTED_BUG: 'yes' })).toThrow(/ORCH_SCRIPTED_BUG: "yes"/);
  });
});
