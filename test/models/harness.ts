import { onTestFinished } from 'vitest';
import { createAnthropicModel } from '../../src/models/anthropic.ts';
import type { Effort } from '../../src/models/catalog.ts';
import type { WorkerName } from '../../src/protocol/output.ts';
import type { AgentDefinition } from '../../src/workers/agentFile.ts';
import { createWorkerRunner } from '../../src/workers/runWorker.ts';
import type { WorkerRunInput } from '../../src/workers/types.ts';
import { startFakeMessagesApi } from '../support/fakeMessagesApi.ts';
import { agent, BASH, tempDir } from '../workers/fixtures.ts';

/** The real SDK client against a fake Messages API on 127.0.0.1 (`strict`: enforcing the documented request rules), closed after the test. */
export async function fakeApi(options: { maxRetries?: number; timeoutMs?: number; strict?: boolean } = {}) {
  const api = await startFakeMessagesApi({ strict: options.strict ?? false });
  onTestFinished(() => api.close());
  const model = createAnthropicModel({ apiKey: 'test', baseURL: api.url, maxRetries: options.maxRetries ?? 2, timeoutMs: options.timeoutMs ?? 10_000 });
  return { api, model };
}

/** A worker runner over that model, and the input of one run in a fresh workspace. */
export async function workerOverFakeApi(
  options: { maxRetries?: number; maxTurns?: number; tokenBudget?: number; strict?: boolean; modelId?: string; fallbackModel?: string; effort?: Effort; maxTokens?: number } = {},
) {
  const { api, model } = await fakeApi(options);
  const run = createWorkerRunner({
    agents: new Map<WorkerName, AgentDefinition>([['db-worker', agent('db-worker')]]),
    model,
    resolveModel: (alias) => (alias === options.fallbackModel ? alias : (options.modelId ?? 'claude-test-model')),
    maxTurns: options.maxTurns ?? 10,
    tokenBudget: options.tokenBudget ?? 1_000_000,
    maxTokens: options.maxTokens ?? 2048,
    ...(options.fallbackModel !== undefined ? { fallbackModel: options.fallbackModel } : {}),
    ...(options.effort !== undefined ? { effort: options.effort } : {}),
    bash: BASH,
  });
  const dir = await tempDir();
  const input: WorkerRunInput = { taskId: 't1', worker: 'db-worker', prompt: 'Create the user model', workspace: `${dir}/ws`, attempt: 1 };
  return { api, model, run, input, dir };
}

export const report = (summary: string, issues: string[] = []) =>
  `Done.\n\`\`\`json\n${JSON.stringify({ summary, issues })}\n\`\`\``;
