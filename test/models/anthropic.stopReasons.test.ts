import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { shouldRetry } from '../../src/errors.ts';
import { ModelStopError } from '../../src/workers/modelStopError.ts';
import type { FakeBlock } from '../support/fakeMessagesApi.ts';
import { report, workerOverFakeApi } from './harness.ts';

// One worker through the real SDK against the strict fake Messages API, a current model by
// default: every stop reason ends as docs/model-api.md's table says, and no request is refused.

const write = (id: string, file = 'src/models/user.js'): FakeBlock => ({ type: 'tool_use', id, name: 'Write', input: { file_path: file, content: 'export const User = {};\n' } });
const done: FakeBlock = { type: 'text', text: report('User model in src/models/user.js') };

async function failure(promise: Promise<unknown>): Promise<ModelStopError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(ModelStopError);
  return error as ModelStopError;
}

describe('stop reasons of a worker on claude-sonnet-5-5 (strict fake)', () => {
  it('sends thinking blocks back unchanged, drops empty text blocks, sends effort and no thinking or sampling parameter', async () => {
    const { api, run, input } = await workerOverFakeApi({ strict: true, modelId: 'claude-sonnet-5-5', effort: 'high' });
    api.enqueue(
      { content: [{ type: 'thinking', thinking: 'The user model first.' }, { type: 'text', text: ' \n' }, write('w1')] },
      { content: [{ type: 'thinking', thinking: 'Written; report.' }, { type: 'text', text: '' }, done] },
    );
    const result = await run(input, new AbortController().signal);
    expect(result).toMatchObject({ files_created: ['src/models/user.js'], summary: 'User model in src/models/user.js', turns: 2 });
    expect(api.refused).toEqual([]);
    const second = api.requests[1]!.body;
    expect(second.messages[1]).toMatchObject({ role: 'assistant', content: [{ type: 'thinking', thinking: 'The user model first.' }, { type: 'tool_use', id: 'w1' }] });
    expect(second.messages[1]!.content).toHaveLength(2);
    for (const r of api.requests) {
      expect(r.body.output_config).toEqual({ effort: 'high' });
      expect(r.body).not.toHaveProperty('thinking');
      expect(r.body).not.toHaveProperty('temperature');
      expect(r.body).not.toHaveProperty('tool_choice');
    }
  });

  it('pause_turn: sends the answer back as the last turn and goes on', async () => {
    const { api, run, input } = await workerOverFakeApi({ strict: true, modelId: 'claude-sonnet-5-5' });
    api.enqueue(
      { content: [{ type: 'thinking', thinking: 'Long one.' }, { type: 'text', text: 'Working on it.' }], stop_reason: 'pause_turn' },
      { content: [write('w1')] },
      { content: [done] },
    );
    const result = await run(input, new AbortController().signal);
    expect(result.files_created).toEqual(['src/models/user.js']);
    expect(api.requests[1]!.body.messages.at(-1)).toMatchObject({ role: 'assistant', content: [{ type: 'thinking' }, { type: 'text', text: 'Working on it.' }] });
    expect(api.refused).toEqual([]);
  });

  it('max_tokens in the middle of a tool call: the cut call never runs, the turn is asked again with twice the max_tokens', async () => {
    const { api, run, input } = await workerOverFakeApi({ strict: true, modelId: 'claude-sonnet-5-5', maxTokens: 2048 });
    api.enqueue(
      { content: [{ type: 'text', text: 'Writing.' }, write('cut', 'src/cut.js')], stop_reason: 'max_tokens' },
      { content: [write('w1')] },
      { content: [done] },
    );
    const result = await run(input, new AbortController().signal);
    expect(result.files_created).toEqual(['src/models/user.js']);
    expect(existsSync(path.join(input.workspace, 'src/cut.js'))).toBe(false);
    expect(api.requests.map((r) => r.body.max_tokens)).toEqual([2048, 4096, 4096]);
    expect(api.requests[1]!.body.messages).toHaveLength(1);
    expect(api.refused).toEqual([]);
  });

  it('max_tokens at the model\'s own limit: fails truncated, not retried, and the cut call never ran', async () => {
    const { api, run, input } = await workerOverFakeApi({ strict: true, modelId: 'claude-sonnet-4-6', maxTokens: 64_000 });
    api.enqueue({ content: [write('cut', 'src/cut.js')], stop_reason: 'max_tokens' });
    const error = await failure(run(input, new AbortController().signal));
    expect(error.reason).toBe('truncated');
    expect(error.message).toMatch(/^truncated: .*max_tokens 64000, claude-sonnet-4-6's limit/);
    expect(shouldRetry(error)).toBe(false);
    expect(existsSync(path.join(input.workspace, 'src/cut.js'))).toBe(false);
    expect(api.refused).toEqual([]);
  });

  it('max_tokens configured above the model\'s limit is sent as the limit', async () => {
    const { api, run, input } = await workerOverFakeApi({ strict: true, modelId: 'claude-haiku-4-5', maxTokens: 100_000 });
    api.enqueue({ content: [write('w1')] }, { content: [done] });
    await run(input, new AbortController().signal);
    expect(api.requests.map((r) => r.body.max_tokens)).toEqual([64_000, 64_000]);
    expect(api.refused).toEqual([]);
  });

  it('refusal without a fallback: fails refusal, not retried, naming the category', async () => {
    const { api, run, input } = await workerOverFakeApi({ strict: true, modelId: 'claude-sonnet-5-5' });
    api.enqueue({ content: [], stop_reason: 'refusal', refusalCategory: 'cyber' });
    const error = await failure(run(input, new AbortController().signal));
    expect(error.reason).toBe('refusal');
    expect(error.message).toMatch(/^refusal: claude-sonnet-5-5 declined this part of the task \(category cyber\); a fallback model/);
    expect(shouldRetry(error)).toBe(false);
  });

  it('refusal with a fallback: a new conversation on the fallback model, which finishes the part', async () => {
    const { api, run, input } = await workerOverFakeApi({ strict: true, modelId: 'claude-sonnet-5-5', fallbackModel: 'claude-opus-5-5' });
    api.enqueue(
      { content: [{ type: 'thinking', thinking: 'Hmm.' }, write('w1')] },
      { content: [{ type: 'thinking', thinking: 'No.' }], stop_reason: 'refusal', refusalCategory: null },
      { content: [write('w2')] },
      { content: [done] },
    );
    const result = await run(input, new AbortController().signal);
    expect(api.requests.map((r) => r.body.model)).toEqual(['claude-sonnet-5-5', 'claude-sonnet-5-5', 'claude-opus-5-5', 'claude-opus-5-5']);
    // Anew: the first prompt only, none of the other model's thinking blocks.
    expect(api.requests[2]!.body.messages).toHaveLength(1);
    expect(result.issues).toContain('claude-sonnet-5-5 declined this part (no category given); claude-opus-5-5 did it');
    expect(api.refused).toEqual([]);
  });

  it('refusal by the fallback too: fails refusal', async () => {
    const { api, run, input } = await workerOverFakeApi({ strict: true, modelId: 'claude-sonnet-5-5', fallbackModel: 'claude-opus-5-5' });
    api.enqueue({ content: [], stop_reason: 'refusal' }, { content: [], stop_reason: 'refusal', refusalCategory: 'bio' });
    const error = await failure(run(input, new AbortController().signal));
    expect(error.message).toMatch(/^refusal: claude-opus-5-5 declined .*category bio/);
  });

  it('model_context_window_exceeded: fails context_exceeded, not retried', async () => {
    const { api, run, input } = await workerOverFakeApi({ strict: true, modelId: 'claude-sonnet-5-5' });
    api.enqueue({ content: [write('w1')] }, { content: [{ type: 'text', text: 'Partial' }], stop_reason: 'model_context_window_exceeded' });
    const error = await failure(run(input, new AbortController().signal));
    expect(error.reason).toBe('context_exceeded');
    expect(shouldRetry(error)).toBe(false);
  });

  it('end_turn with no content from a run that changed nothing: fails no_work, which another attempt may fix', async () => {
    const { api, run, input } = await workerOverFakeApi({ strict: true, modelId: 'claude-sonnet-5-5' });
    api.enqueue({ content: [{ type: 'thinking', thinking: 'Nothing to do?' }, { type: 'text', text: '  ' }] });
    const error = await failure(run(input, new AbortController().signal));
    expect(error.reason).toBe('no_work');
    expect(shouldRetry(error)).toBe(true);
  });

  it('end_turn with no text after real work is a success (the files are the work)', async () => {
    const { api, run, input } = await workerOverFakeApi({ strict: true, modelId: 'claude-sonnet-5-5' });
    api.enqueue({ content: [write('w1')] }, { content: [] });
    const result = await run(input, new AbortController().signal);
    expect(result.files_created).toEqual(['src/models/user.js']);
  });
});
