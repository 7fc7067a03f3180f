import { DATA_RULE } from '../../src/models/fence.ts';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runAgentLoop, type AgentLoopOptions } from '../../src/workers/agentLoop.ts';
import { AgentTokenBudgetError, AgentTurnLimitError, WorkerAbortedError } from '../../src/workers/errors.ts';
import type { ModelClient } from '../../src/models/types.ts';
import type { ToolName } from '../../src/workers/tools/index.ts';
import { agent, BASH, sandbox } from './fixtures.ts';
import { reply, stubModel, text, toolResults, toolUse } from './stubModel.ts';

async function loop(model: ModelClient, overrides: Partial<AgentLoopOptions> & { tools?: ToolName[] } = {}) {
  const { workspace, outside } = await sandbox();
  const options: AgentLoopOptions = {
    agent: agent('db-worker', overrides.tools ?? ['Read', 'Write', 'Edit']),
    prompt: 'Create the user model',
    model,
    modelId: 'claude-sonnet-4-5',
    workspace,
    signal: new AbortController().signal,
    maxTurns: 5,
    maxTokens: 1024,
    tokenBudget: 1_000_000,
    bash: BASH,
    caller: 'db-worker',
    ...overrides,
  };
  return { workspace, outside, run: () => runAgentLoop(options) };
}

describe('runAgentLoop', () => {
  it('runs tools until the model stops, then returns its text, turns, summed usage and changes', async () => {
    const { model, calls } = stubModel([
      reply([text('Writing.'), toolUse('t1', 'Write', { file_path: 'src/user.js', content: 'a' })], { input_tokens: 100, cache_creation_input_tokens: 50 }),
      reply([toolUse('t2', 'Edit', { file_path: 'src/user.js', old_string: 'a', new_string: 'b' })], { input_tokens: 120, cache_read_input_tokens: 50 }),
      reply([text('Done.')], { input_tokens: 140, output_tokens: 7, cache_read_input_tokens: 50 }),
    ]);
    const { workspace, run } = await loop(model);
    const result = await run();
    expect(result).toMatchObject({ finalText: 'Done.', turns: 3, stopReason: 'end_turn' });
    expect(result.usage).toEqual({ input_tokens: 360, output_tokens: 27, cache_read_input_tokens: 100, cache_creation_input_tokens: 50 });
    expect(result.changes).toEqual({ created: ['src/user.js'], modified: [], deleted: [] });
    expect(await readFile(path.join(workspace.root, 'src/user.js'), 'utf8')).toBe('b');
    expect(toolResults(calls[1]!.params)).toEqual([
      { type: 'tool_result', tool_use_id: 't1', content: expect.stringMatching(/^Created src\/user.js/), cache_control: { type: 'ephemeral' } },
    ]);
    expect(calls.every((c) => c.options.caller === 'db-worker')).toBe(true);
  });

  it('offers only the agent\'s tools, with cache breakpoints on the system prompt and the last tool', async () => {
    const { model, calls } = stubModel([reply([text('ok')])]);
    const { run } = await loop(model, { tools: ['Read', 'Grep'] });
    await run();
    const params = calls[0]!.params;
    expect(params.tools?.map((t) => ('name' in t ? t.name : ''))).toEqual(['Read', 'Grep']);
    expect(params.tools?.[0]).not.toHaveProperty('cache_control');
    expect(params.tools?.[1]).toHaveProperty('cache_control', { type: 'ephemeral' });
    expect(params.system).toEqual([{ type: 'text', text: `You are db-worker.\n\n${DATA_RULE}`, cache_control: { type: 'ephemeral' } }]);
    expect(params).toMatchObject({ model: 'claude-sonnet-4-5', max_tokens: 1024 });
  });

  it('turns tool failures, unknown tools and bad input into is_error results the model sees', async () => {
    const { model, calls } = stubModel([
      reply([
        toolUse('a', 'Bash', { command: 'ls' }),
        toolUse('b', 'Read', { file_path: 'missing.js' }),
        toolUse('c', 'Write', { file_path: '../outside/x.js', content: 'x' }),
        toolUse('d', 'Write', { content: 'no path' }),
      ]),
      reply([text('Gave up.')]),
    ]);
    const { outside, run } = await loop(model);
    expect((await run()).finalText).toBe('Gave up.');
    const results = toolResults(calls[1]!.params);
    expect(results.map((r) => r.is_error)).toEqual([true, true, true, true]);
    expect(results.map((r) => r.content)).toEqual([
      'No tool named Bash is available to this agent. Available tools: Read, Write, Edit.',
      expect.stringMatching(/^Read failed: missing.js does not exist/),
      expect.stringMatching(/^Write failed: .* is outside the workspace/),
      expect.stringMatching(/^Write failed: invalid input for Write: .*file_path/),
    ]);
    await expect(readdir(outside)).rejects.toThrow(/ENOENT/);
  });

  it('stops with AgentTurnLimitError when the model still wants tools after maxTurns', async () => {
    const again = () => reply([toolUse(`t${Math.random()}`, 'Read', { file_path: 'x' })]);
    const { model, calls } = stubModel([again, again, again]);
    const { run } = await loop(model, { maxTurns: 2 });
    await expect(run()).rejects.toBeInstanceOf(AgentTurnLimitError);
    expect(calls).toHaveLength(2);
  });

  it('stops with AgentTokenBudgetError once the turns together used more than the token budget', async () => {
    const again = () => reply([toolUse(`t${Math.random()}`, 'Read', { file_path: 'x' })], { input_tokens: 600, output_tokens: 100 });
    const { model, calls } = stubModel([again, again, again, again]);
    const { run } = await loop(model, { tokenBudget: 1000, maxTurns: 10 });
    const error = await run().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AgentTokenBudgetError);
    expect((error as AgentTokenBudgetError).used).toBe(1400);
    expect(calls).toHaveLength(2);
  });

  it('stops when its signal aborts, between turns', async () => {
    const controller = new AbortController();
    const { model, calls } = stubModel([
      () => {
        controller.abort();
        return reply([toolUse('t1', 'Write', { file_path: 'a.js', content: 'a' })]);
      },
    ]);
    const { run } = await loop(model, { signal: controller.signal });
    await expect(run()).rejects.toBeInstanceOf(WorkerAbortedError);
    expect(calls).toHaveLength(1);
  });
});
