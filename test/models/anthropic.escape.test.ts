import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { report, workerOverFakeApi } from './harness.ts';

describe('worker over the real SDK: confinement', () => {
  it('answers a write outside the workspace with an is_error result and writes nothing there', async () => {
    const { api, run, input, dir } = await workerOverFakeApi();
    const outside = path.join(dir, 'outside');
    await mkdir(outside);
    api.enqueue(
      { content: [
        { type: 'tool_use', id: 'a', name: 'Write', input: { file_path: path.join(outside, 'pwned.txt'), content: 'x' } },
        { type: 'tool_use', id: 'b', name: 'Write', input: { file_path: '../outside/pwned2.txt', content: 'x' } },
        { type: 'tool_use', id: 'c', name: 'Bash', input: { command: 'ls' } },
      ] },
      { content: [{ type: 'text', text: report('could not write there', ['the path is outside the workspace']) }] },
    );
    const result = await run(input, new AbortController().signal);
    const results = api.requests[1]!.body.messages.at(-1)!.content as Array<{ tool_use_id: string; is_error?: boolean; content: string }>;
    expect(results.map((r) => [r.tool_use_id, r.is_error === true])).toEqual([['a', true], ['b', true], ['c', false]]);
    expect(results[0]!.content).toMatch(/outside the workspace/);
    expect(await readdir(outside)).toEqual([]);
    expect(result).toMatchObject({ files_created: [], issues: ['the path is outside the workspace'] });
  });
});
