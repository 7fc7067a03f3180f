import { APIError } from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { TaskBudgetExceededError } from '../../src/limits/taskBudgetExceededError.ts';
import { ZERO_USAGE } from '../../src/protocol/output.ts';
import { toWorkerRunError } from '../../src/runtime/workerRunFailure.ts';
import { AgentTokenBudgetError, WorkerAbortedError } from '../../src/workers/errors.ts';
import { WorkerBudgetError } from '../../src/workers/workerBudgetError.ts';
import { WorkerRunError } from '../../src/workers/workerRunError.ts';

const spent = { usage: { ...ZERO_USAGE, input_tokens: 10 }, cost_usd: 0.01 };
const scrub = (text: string) => text.replaceAll('sk-secret', '[redacted]');

describe('toWorkerRunError, the one place a failed attempt becomes a WorkerRunError', () => {
  it('turns the task budget stop into a WorkerBudgetError of kind task_usd, spend kept', () => {
    const cause = new TaskBudgetExceededError(0.5, 0.5);
    const error = toWorkerRunError(cause, { spent, scrub });
    expect(error).toBeInstanceOf(WorkerBudgetError);
    expect((error as WorkerBudgetError).budget).toBe('task_usd');
    expect(error.retryable).toBe(false);
    expect(error.spent).toBe(spent);
    expect(error.cause).toBe(cause);
    expect(error.message).toBe(cause.message);
  });

  it('turns the token budget stop into a WorkerBudgetError of kind worker_tokens', () => {
    const error = toWorkerRunError(new AgentTokenBudgetError(100, 120), { spent, scrub });
    expect(error).toBeInstanceOf(WorkerBudgetError);
    expect((error as WorkerBudgetError).budget).toBe('worker_tokens');
    expect(error.retryable).toBe(false);
  });

  it('scrubs the message and asks shouldRetry for anything else', () => {
    const overloaded = APIError.generate(529, { type: 'error', error: { type: 'overloaded_error', message: 'key sk-secret overloaded' } }, undefined, new Headers());
    const error = toWorkerRunError(overloaded, { spent, scrub });
    expect(error).not.toBeInstanceOf(WorkerBudgetError);
    expect(error.retryable).toBe(true);
    expect(error.message).not.toContain('sk-secret');
    expect(error.message).toContain('[redacted]');
    expect(error.spent).toBe(spent);
    expect(error.cause).toBe(overloaded);
  });

  it('retries a lost Redis connection, not an abort or a bug', () => {
    expect(toWorkerRunError(new Error('Connection is closed.')).retryable).toBe(true);
    expect(toWorkerRunError(new WorkerAbortedError()).retryable).toBe(false);
    expect(toWorkerRunError(new Error('bug')).retryable).toBe(false);
    expect(toWorkerRunError('thrown text').message).toBe('thrown text');
    expect(toWorkerRunError(new Error('bug')).spent).toBeUndefined();
  });

  it('passes a WorkerRunError on as it is (its decision was made where it was thrown)', () => {
    const budget = new WorkerBudgetError('over', 'task_usd', { spent });
    expect(toWorkerRunError(budget)).toBe(budget);
    const run = new WorkerRunError('429', { retryable: true });
    expect(toWorkerRunError(run, { spent, scrub })).toBe(run);
  });
});
