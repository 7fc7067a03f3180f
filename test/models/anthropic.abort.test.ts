import { APIUserAbortError } from '@anthropic-ai/sdk';
import { describe, expect, it, vi } from 'vitest';
import { shouldRetry } from '../../src/errors.ts';
import { workerOverFakeApi } from './harness.ts';

describe('worker over the real SDK: abort', () => {
  it('cancels the HTTP request in flight when the signal aborts', async () => {
    const { api, run, input } = await workerOverFakeApi();
    api.enqueue({ stall: true });
    const controller = new AbortController();
    const running = run(input, controller.signal).catch((e: unknown) => e);
    await vi.waitFor(() => expect(api.requests).toHaveLength(1));
    controller.abort();
    const error = await running;
    expect(error).toBeInstanceOf(APIUserAbortError);
    expect(shouldRetry(error)).toBe(false);
    // The server sees the client hang up: the request really was cancelled, not left running.
    await expect(api.requests[0]!.closed).resolves.toBeUndefined();
    expect(api.requests).toHaveLength(1);
  });
});
