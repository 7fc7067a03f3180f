import { DATA_RULE } from '../../src/models/fence.ts';
import { describe, expect, it } from 'vitest';
import { report, workerOverFakeApi } from './harness.ts';

describe('worker over the real SDK: prompt caching', () => {
  it('sends cache_control on the system prompt, the last tool and the newest message', async () => {
    const { api, run, input } = await workerOverFakeApi();
    api.enqueue({ content: [{ type: 'text', text: report('ok') }] });
    await run(input, new AbortController().signal);
    const body = api.requests[0]!.body;
    expect(body.system).toEqual([{ type: 'text', text: `You are db-worker.\n\n${DATA_RULE}`, cache_control: { type: 'ephemeral' } }]);
    const tools = body.tools as Array<{ name: string; cache_control?: unknown }>;
    expect(tools.map((t) => t.name)).toEqual(['Read', 'Write', 'Edit', 'Bash', 'Glob', 'Grep']);
    expect(tools.filter((t) => t.cache_control !== undefined).map((t) => t.name)).toEqual(['Grep']);
    expect(tools.at(-1)!.cache_control).toEqual({ type: 'ephemeral' });
    expect(body.messages).toEqual([{ role: 'user', content: [{ type: 'text', text: 'Create the user model', cache_control: { type: 'ephemeral' } }] }]);
    // SDK 1.x sends the API key as a bearer token.
    expect(api.requests[0]!.headers.authorization).toBe('Bearer test');
  });
});
