import { describe, expect, it } from 'vitest';
import { workerOverFakeApi } from './harness.ts';

describe('worker over the real SDK: malformed final answer', () => {
  it('still succeeds with the files it wrote, recording the bad report as an issue', async () => {
    const { api, run, input } = await workerOverFakeApi();
    api.enqueue(
      { content: [{ type: 'tool_use', name: 'Write', input: { file_path: 'a.sql', content: 'CREATE TABLE a ();' } }] },
      { content: [{ type: 'text', text: 'Wrote the table.\n```json\n{"summary": "table a", issues: []\n```' }] },
    );
    const result = await run(input, new AbortController().signal);
    expect(result.summary).toBe('Wrote the table.');
    expect(result.files_created).toEqual(['a.sql']);
    expect(result.issues).toEqual([expect.stringMatching(/^worker's JSON report did not parse/)]);
  });
});
