import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { report, workerOverFakeApi } from './harness.ts';

describe('worker over the real SDK: multi-turn tool loop', () => {
  it('writes then edits a file over streamed turns, and reports the file as created', async () => {
    const { api, run, input } = await workerOverFakeApi();
    api.enqueue(
      { content: [{ type: 'text', text: 'Creating the model.' }, { type: 'tool_use', id: 'w1', name: 'Write', input: { file_path: 'src/models/user.js', content: 'export const User = { table: "user" };\n' } }] },
      { content: [{ type: 'tool_use', id: 'e1', name: 'Edit', input: { file_path: 'src/models/user.js', old_string: '"user"', new_string: '"users"' } }] },
      { content: [{ type: 'text', text: report('User model in src/models/user.js') }] },
    );
    const result = await run(input, new AbortController().signal);
    expect(result).toMatchObject({ summary: 'User model in src/models/user.js', files_created: ['src/models/user.js'], files_modified: [], issues: [], turns: 3 });
    expect(await readFile(path.join(input.workspace, 'src/models/user.js'), 'utf8')).toBe('export const User = { table: "users" };\n');
    expect(api.requests.map((r) => r.stream)).toEqual([true, true, true]);
    // The tool input arrived as input_json_delta chunks and was reassembled by the SDK.
    const third = api.requests[2]!.body.messages;
    expect(third.at(-2)).toEqual({ role: 'assistant', content: [{ type: 'tool_use', id: 'e1', name: 'Edit', input: { file_path: 'src/models/user.js', old_string: '"user"', new_string: '"users"' } }] });
    expect(third.at(-1)).toMatchObject({ role: 'user', content: [{ type: 'tool_result', tool_use_id: 'e1', content: 'Edited src/models/user.js: replaced 1 occurrence' }] });
    expect(api.pending()).toBe(0);
  });
});
