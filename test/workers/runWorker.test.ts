import { shouldRetry } from '../../src/errors.ts';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createScriptedModel, ScriptedFailureError } from '../../src/models/scripted.ts';
import { ROUTES_INDEX_JS } from '../../src/models/scriptedApp.ts';
import type { WorkerName } from '../../src/protocol/output.ts';
import { UnknownWorkerError, WorkerWritesFailedError } from '../../src/workers/errors.ts';
import { createWorkerRunner } from '../../src/workers/runWorker.ts';
import type { AgentDefinition } from '../../src/workers/agentFile.ts';
import { agent, BASH, tempDir } from './fixtures.ts';

const agents = new Map<WorkerName, AgentDefinition>([
  ['db-worker', agent('db-worker')],
  ['api-worker', agent('api-worker')],
]);

function runner(fail: string[] = [], models: string[] = []) {
  return createWorkerRunner({
    agents,
    model: createScriptedModel({ latencyMs: () => 0, fail: new Set(fail) }),
    resolveModel: (alias) => {
      models.push(alias);
      return 'claude-sonnet-4-5';
    },
    maxTurns: 10,
    maxTokens: 1024,
    tokenBudget: 1_000_000,
    bash: BASH,
  });
}

/** A workspace that already has what the scripted workers would otherwise add first (package.json, src/db.js), and `files`. */
async function project(workspace: string, files: Record<string, string> = {}): Promise<void> {
  for (const [file, content] of Object.entries({ 'package.json': '{ "type": "module" }\n', 'src/db.js': 'export const pool = {};\n', ...files })) {
    await mkdir(path.dirname(path.join(workspace, file)), { recursive: true });
    await writeFile(path.join(workspace, file), content);
  }
}

describe('createWorkerRunner', () => {
  it('returns the WorkerResult: files from the change log, summary and issues from the report', async () => {
    const dir = await tempDir();
    const workspace = path.join(dir, 'task-1');
    await project(workspace, { 'src/models/user.js': 'export const User = {};\n', 'src/auth/tokens.js': 'export {};\n', 'src/routes/index.js': ROUTES_INDEX_JS });
    const models: string[] = [];
    const prompt = '# Task 1\nCreate user registration endpoint\n\n## Outputs\nfiles created: src/models/user.js';
    const result = await runner([], models)({ taskId: '1', worker: 'api-worker', prompt, workspace, attempt: 1 }, new AbortController().signal);
    expect(result).toEqual({
      worker: 'api-worker',
      summary: 'Added POST /api/users/register, with the email, name and password validated (src/routes/users.js). (scripted stand-in)',
      files_created: ['src/routes/users.js'],
      files_modified: [],
      issues: [],
      usage: expect.objectContaining({ input_tokens: expect.any(Number) }),
      turns: 4, // Glob, Read src/routes/index.js (it mounts every file), Write, report
    });
    expect(models).toEqual(['sonnet']);
  });

  it('throws a retryable ScriptedFailureError for a failing worker, on every attempt', async () => {
    const run = runner(['db-worker']);
    const workspace = await tempDir();
    for (const attempt of [1, 2]) {
      const error = await run({ taskId: '1', worker: 'db-worker', prompt: 'x', workspace, attempt }, new AbortController().signal).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ScriptedFailureError);
      expect(shouldRetry(error)).toBe(true);
    }
  });

  it('throws UnknownWorkerError (not retryable) for a worker without an agent file', async () => {
    const error = await runner()({ taskId: '1', worker: 'auth-worker', prompt: 'x', workspace: await tempDir(), attempt: 1 }, new AbortController().signal).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnknownWorkerError);
    expect((error as Error).message).toMatch(/add agents\/auth-worker.md/);
    expect(shouldRetry(error)).toBe(false);
  });

  // A folder where the file should go: a real write failure ("is a directory") of every Write the scripted db-worker makes.
  it('a run whose every write failed did not succeed: WorkerWritesFailedError, not retryable, naming the files', async () => {
    const workspace = await tempDir();
    await project(workspace);
    await mkdir(path.join(workspace, 'src/models/post.js'), { recursive: true });
    await mkdir(path.join(workspace, 'migrations/001_create_posts.sql'), { recursive: true });
    const error = await runner()({ taskId: '1', worker: 'db-worker', prompt: '# Task 1\nCreate a REST API for blog posts', workspace, attempt: 1 }, new AbortController().signal).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkerWritesFailedError);
    expect(shouldRetry(error)).toBe(false);
    expect((error as Error).message).toMatch(/^every file write of db-worker failed, nothing was written: src\/models\/post\.js \(Write failed: .*is a directory.*\); migrations\/001_create_posts\.sql/);
  });

  it('a write that failed is not a file written: the result lists only what was written, and says what was not', async () => {
    const workspace = await tempDir();
    await project(workspace);
    await mkdir(path.join(workspace, 'migrations/001_create_posts.sql'), { recursive: true });
    const result = await runner()({ taskId: '1', worker: 'db-worker', prompt: '# Task 1\nCreate a REST API for blog posts', workspace, attempt: 1 }, new AbortController().signal);
    expect(result.files_created).toEqual(['src/models/post.js']);
    expect(result.summary).toBe('Added the Post model (src/models/post.js). (scripted stand-in)');
    expect(result.issues).toContainEqual(expect.stringMatching(/^migrations\/001_create_posts\.sql was not written: .*is a directory/));
  });
});
