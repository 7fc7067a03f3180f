import { shouldRetry } from '../../src/errors.ts';
import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { ScriptedFailureError } from '../../src/models/scripted.ts';
import {
  AgentTurnLimitError, WorkerAbortedError, WorkspaceEscapeError,
} from '../../src/workers/errors.ts';
import { WorkerRunError } from '../../src/workers/workerRunError.ts';

const status = (code: number) => APIError.generate(code, { type: 'error', error: { type: 'x', message: 'm' } }, undefined, new Headers());

describe('shouldRetry on the workers\' errors', () => {
  it.each([408, 409, 429, 500, 502, 503, 529])('retries an APIError with status %i (the SDK gave up on it)', (code) => {
    expect(shouldRetry(status(code))).toBe(true);
  });

  it.each([400, 401, 403, 404, 413, 422])('does not retry status %i: the same request fails the same way', (code) => {
    expect(shouldRetry(status(code))).toBe(false);
  });

  it('retries connection failures and timeouts, not aborts', () => {
    expect(shouldRetry(new APIConnectionError({ message: 'down' }))).toBe(true);
    expect(shouldRetry(new APIConnectionTimeoutError())).toBe(true);
    expect(shouldRetry(new APIUserAbortError())).toBe(false);
    expect(shouldRetry(new WorkerAbortedError())).toBe(false);
  });

  it('retries an overloaded error event in the middle of a stream (no status)', () => {
    const body = { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } };
    expect(shouldRetry(new APIError(undefined, body, undefined, new Headers(), 'overloaded_error'))).toBe(true);
    expect(shouldRetry(new APIError(undefined, body, undefined, new Headers(), 'invalid_request_error'))).toBe(false);
  });

  it('retries a body cut by a connection reset', () => {
    const reset = Object.assign(new Error('socket'), { code: 'ECONNRESET' });
    expect(shouldRetry(new TypeError('terminated', { cause: reset }))).toBe(true);
  });

  it('does not retry the turn limit, escapes or unknown errors', () => {
    expect(shouldRetry(new AgentTurnLimitError(3))).toBe(false);
    expect(shouldRetry(new WorkspaceEscapeError('../x', '/ws', 'climbs out'))).toBe(false);
    expect(shouldRetry(new Error('bug'))).toBe(false);
    expect(shouldRetry('string')).toBe(false);
  });

  it('retries the scripted failure, and honours a WorkerRunError decision', () => {
    expect(shouldRetry(new ScriptedFailureError('api-worker'))).toBe(true);
    expect(shouldRetry(new WorkerRunError('x', { retryable: false }))).toBe(false);
    expect(shouldRetry(new WorkerRunError('x', { retryable: true }))).toBe(true);
  });
});
