import { describe, expect, it } from 'vitest';
import { report, workerOverFakeApi } from './harness.ts';

describe('worker over the real SDK: usage', () => {
  it('sums input, output and cache tokens over every turn', async () => {
    const { api, run, input } = await workerOverFakeApi();
    api.enqueue(
      { content: [{ type: 'tool_use', name: 'Glob', input: { pattern: '**/*' } }], usage: { input_tokens: 1000, output_tokens: 40, cache_creation_input_tokens: 800 } },
      { content: [{ type: 'text', text: report('nothing to do') }], usage: { input_tokens: 1100, output_tokens: 60, cache_read_input_tokens: 800 } },
    );
    const result = await run(input, new AbortController().signal);
    expect(result.usage).toEqual({ input_tokens: 2100, output_tokens: 100, cache_read_input_tokens: 800, cache_creation_input_tokens: 800 });
    expect(result.turns).toBe(2);
  });
});
