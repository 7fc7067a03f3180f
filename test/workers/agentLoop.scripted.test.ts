import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createScriptedModel } from '../../src/models/scripted.ts';
import { runAgentLoop } from '../../src/workers/agentLoop.ts';
import { agent, BASH, sandbox } from './fixtures.ts';

describe('runAgentLoop with the scripted model', () => {
  it('really looks, then writes the db-worker files through the tools (an empty workspace: the project files too), then reports', async () => {
    const { workspace } = await sandbox();
    const calls: string[] = [];
    const model = createScriptedModel({ latencyMs: () => 0, fail: new Set(), onCall: (c) => calls.push(c) });
    const result = await runAgentLoop({
      agent: agent('db-worker'),
      prompt: '# Task t1\nCreate a REST API for blog posts with authentication',
      model,
      modelId: 'claude-sonnet-4-5',
      workspace,
      signal: new AbortController().signal,
      maxTurns: 10,
      tokenBudget: 1_000_000,
      maxTokens: 1024,
      bash: BASH,
      caller: 'db-worker',
    });
    expect(result.turns).toBe(3); // Glob, Write, report
    expect(calls).toEqual(['db-worker', 'db-worker', 'db-worker']);
    expect(result.changes.created).toEqual(['migrations/001_create_posts.sql', 'package.json', 'src/db.js', 'src/models/post.js']);
    expect(await readFile(path.join(workspace.root, 'migrations/001_create_posts.sql'), 'utf8')).toMatch(/^CREATE TABLE IF NOT EXISTS posts/);
    expect(result.finalText).toContain('```json');
    expect(result.usage.input_tokens).toBeGreaterThan(0);
    expect(result.usage.cache_creation_input_tokens).toBeGreaterThan(0);
    expect(result.usage.cache_read_input_tokens).toBe(2 * result.usage.cache_creation_input_tokens);
  });
});
