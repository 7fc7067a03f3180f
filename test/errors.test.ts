import { readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import Anthropic, { APIConnectionError, APIError, APIUserAbortError } from '@anthropic-ai/sdk';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { ConfigError, isConnectionError, OrchestratorError, shouldRetry } from '../src/errors.ts';
import { ProjectError } from '../src/git/projectError.ts';
import { TaskBudgetExceededError } from '../src/limits/taskBudgetExceededError.ts';
import { ScriptedFailureError } from '../src/models/scripted.ts';
import { freePort } from '../src/redis/localServer.ts';
import { AgentTurnLimitError, WorkerAbortedError } from '../src/workers/errors.ts';
import { WorkerBudgetError } from '../src/workers/workerBudgetError.ts';
import { WorkerRunError } from '../src/workers/workerRunError.ts';

const root = path.resolve(import.meta.dirname, '..');
const sources = (dir: string): string[] =>
  readdirSync(path.join(root, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => path.relative(root, path.join(e.parentPath, e.name)));

/** Every `class X extends Y` of src/ and machines/, with its file and whether it is exported. */
const classes = [...sources('src'), ...sources('machines')].flatMap((file) =>
  [...readFileSync(path.join(root, file), 'utf8').matchAll(/^(export )?(?:abstract )?class (\w+) extends (\w+)/gm)].map((m) => ({
    file,
    exported: m[1] !== undefined,
    name: m[2]!,
    parent: m[3]!,
  })),
);

/** Built-in error classes: only the base may extend one of them. */
const BUILTIN_ERRORS = new Set(['Error', 'TypeError', 'RangeError', 'SyntaxError', 'ReferenceError', 'EvalError', 'URIError', 'AggregateError', 'DOMException']);

const closedPort = async (): Promise<number> => freePort();

describe('the error hierarchy', () => {
  it('finds the error classes to check', () => {
    expect(classes.filter((c) => c.name.endsWith('Error')).length).toBeGreaterThan(30);
  });

  it('has one base: no class but OrchestratorError extends a built-in error', () => {
    const strays = classes.filter((c) => BUILTIN_ERRORS.has(c.parent) && c.name !== 'OrchestratorError').map((c) => `${c.file}: ${c.name} extends ${c.parent}`);
    expect(strays, 'extend OrchestratorError (src/errors.ts), or a subclass of it').toEqual([]);
  });

  it('every exported error class of src/ extends OrchestratorError', async () => {
    const checked: string[] = [];
    const outside: string[] = [];
    for (const c of classes.filter((k) => k.exported)) {
      const module = (await import(pathToFileURL(path.join(root, c.file)).href)) as Record<string, unknown>;
      const value = module[c.name];
      if (typeof value !== 'function' || !(value.prototype instanceof Error)) continue;
      checked.push(c.name);
      if (value !== OrchestratorError && !(value.prototype instanceof OrchestratorError)) outside.push(`${c.file}: ${c.name}`);
    }
    expect(outside).toEqual([]);
    expect(checked).toEqual(expect.arrayContaining(['ConfigError', 'WorkerRunError', 'WorkerBudgetError', 'GitCommandError', 'StaleHolderError']));
  });

  it('names an error after its class, keeps its cause, and is not retryable unless the class says so', () => {
    class SampleError extends OrchestratorError {}
    const cause = new Error('below');
    const error = new SampleError('what to fix', { cause });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('SampleError');
    expect(error.message).toBe('what to fix');
    expect(error.cause).toBe(cause);
    expect(error.retryable).toBe(false);
    expect(String(error)).toBe('SampleError: what to fix');
    expect(new ProjectError('detached HEAD')).toBeInstanceOf(ConfigError);
    expect(new ProjectError('detached HEAD').name).toBe('ProjectError');
    expect(new WorkerBudgetError('over', 'task_usd').name).toBe('WorkerBudgetError');
    expect(new TaskBudgetExceededError(1, 1).name).toBe('TaskBudgetExceededError');
    // An abort is named as the platform names one.
    expect(new WorkerAbortedError().name).toBe('AbortError');
  });

  it('sets names in one place: no class but the abort declares its own', () => {
    const declared = [...sources('src'), ...sources('machines')].flatMap((file) =>
      [...readFileSync(path.join(root, file), 'utf8').matchAll(/override (?:readonly )?name = '(\w+)'/g)].map((m) => `${file}: ${m[1]}`),
    );
    expect(declared).toEqual(['src/workers/errors.ts: AbortError']);
  });
});

describe('shouldRetry, the one retry decision', () => {
  it('asks our errors', () => {
    expect(shouldRetry(new WorkerRunError('x', { retryable: true }))).toBe(true);
    expect(shouldRetry(new WorkerRunError('x', { retryable: false }))).toBe(false);
    expect(shouldRetry(new WorkerBudgetError('over', 'worker_tokens'))).toBe(false);
    expect(shouldRetry(new ScriptedFailureError('api-worker'))).toBe(true);
    expect(shouldRetry(new ConfigError('bad flag'))).toBe(false);
    expect(shouldRetry(new TaskBudgetExceededError(0.5, 0.5))).toBe(false);
    expect(shouldRetry(new AgentTurnLimitError(3))).toBe(false);
    expect(shouldRetry(new WorkerAbortedError())).toBe(false);
  });

  it('retries a real ioredis error of a connection to a closed port', async () => {
    const redis = new Redis({ host: '127.0.0.1', port: await closedPort(), lazyConnect: true, retryStrategy: () => null });
    redis.on('error', () => {});
    const error = await redis.ping().then(
      () => undefined,
      (e: unknown) => e,
    );
    redis.disconnect();
    expect(error).toBeInstanceOf(Error);
    expect(isConnectionError(error)).toBe(true);
    expect(shouldRetry(error)).toBe(true);
  });

  it('retries a real ioredis MaxRetriesPerRequestError', async () => {
    const redis = new Redis({ host: '127.0.0.1', port: await closedPort(), lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 10 });
    redis.on('error', () => {});
    const error = await redis.ping().then(
      () => undefined,
      (e: unknown) => e,
    );
    redis.disconnect();
    expect((error as Error).name).toBe('MaxRetriesPerRequestError');
    expect(shouldRetry(error)).toBe(true);
  });

  it('retries a real Node socket error (ECONNREFUSED), also as the cause of another', async () => {
    const port = await closedPort();
    const error = await new Promise<Error>((resolve) => connect(port, '127.0.0.1').on('error', resolve));
    expect((error as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
    expect(shouldRetry(error)).toBe(true);
    expect(shouldRetry(new TypeError('fetch failed', { cause: error }))).toBe(true);
  });

  it('reads SDK APIError statuses as the SDK does', () => {
    const status = (code: number) => APIError.generate(code, { type: 'error', error: { type: 'x', message: 'm' } }, undefined, new Headers());
    for (const code of [408, 409, 429, 500, 529]) expect(shouldRetry(status(code)), String(code)).toBe(true);
    for (const code of [400, 401, 403, 404, 413, 422]) expect(shouldRetry(status(code)), String(code)).toBe(false);
    const event = { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } };
    expect(shouldRetry(new APIError(undefined, event, undefined, new Headers(), 'overloaded_error'))).toBe(true);
    expect(shouldRetry(new APIError(undefined, event, undefined, new Headers(), 'invalid_request_error'))).toBe(false);
    expect(shouldRetry(new APIUserAbortError())).toBe(false);
  });

  it('retries a real SDK connection error (the API unreachable)', async () => {
    const anthropic = new Anthropic({ apiKey: 'test', baseURL: `http://127.0.0.1:${await closedPort()}`, maxRetries: 0 });
    const error = await anthropic.messages.create({ model: 'claude-haiku-4-5', max_tokens: 1, messages: [{ role: 'user', content: 'hi' }] }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(APIConnectionError);
    expect(shouldRetry(error)).toBe(true);
  });

  it('does not retry an abort, a bug or a thrown string', () => {
    const controller = new AbortController();
    controller.abort();
    expect((controller.signal.reason as Error).name).toBe('AbortError');
    expect(shouldRetry(controller.signal.reason)).toBe(false);
    expect(shouldRetry(new Error('bug'))).toBe(false);
    expect(shouldRetry('string')).toBe(false);
    expect(shouldRetry(undefined)).toBe(false);
  });
});
