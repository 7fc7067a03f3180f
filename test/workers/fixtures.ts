import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { onTestFinished } from 'vitest';
import type { WorkerName } from '../../src/protocol/output.ts';
import type { AgentDefinition } from '../../src/workers/agentFile.ts';
import { FileChangeLog } from '../../src/workers/changes.ts';
import { sandboxEnv, TOOL_NAMES, type BashOptions, type ToolContext, type ToolName } from '../../src/workers/tools/index.ts';
import { bwrapSandbox } from '../../src/workers/sandbox/sandbox.ts';
import { Workspace } from '../../src/workers/workspace.ts';

/** A fresh folder removed when the test ends. */
export async function tempDir(prefix = 'orch-worker-'): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A workspace inside a fresh folder, with a sibling `outside` folder to try to escape to. */
export async function sandbox(): Promise<{ workspace: Workspace; outside: string }> {
  const dir = await tempDir();
  const workspace = await Workspace.open(path.join(dir, 'ws'));
  const outside = path.join(dir, 'outside');
  return { workspace, outside };
}

/** Tests run Bash in the real sandbox: CI installs bubblewrap (.ci/run). */
export const BASH: BashOptions = { timeoutMs: 10_000, maxOutputBytes: 30_000, env: sandboxEnv(process.env), sandbox: bwrapSandbox() };

export function toolContext(workspace: Workspace, overrides: Partial<ToolContext> = {}): ToolContext {
  return {
    workspace,
    changes: new FileChangeLog(workspace.root),
    signal: new AbortController().signal,
    bash: BASH,
    ...overrides,
  };
}

export function agent(name: WorkerName = 'db-worker', tools: ToolName[] = [...TOOL_NAMES]): AgentDefinition {
  return { name, description: `${name} for tests`, tools, model: 'sonnet', systemPrompt: `You are ${name}.`, file: `agents/${name}.md` };
}
