import type { ModelClient } from '../models/types.ts';
import type { WorkerName, WorkerResult } from '../protocol/output.ts';
import type { AgentDefinition } from './agentFile.ts';
import type { TaskBox } from './box/types.ts';
import type { SandboxBinds } from './sandbox/sandbox.ts';

/** The output of a step this worker depends on, as passed into its prompt. */
export interface DependencyOutput {
  worker: WorkerName;
  summary: string;
  files_created: string[];
  files_modified: string[];
}

/** Everything one worker run needs; the input of the `runWorker` actor. */
export interface WorkerRunInput {
  taskId: string;
  worker: WorkerName;
  /** The full first user turn (task, context, workspace survey, own part, dependency outputs). */
  prompt: string;
  /** Absolute path of the task's workspace. */
  workspace: string;
  attempt: number;
  /** What Bash may see besides the system; default: the workspace writable, nothing else. */
  binds?: SandboxBinds;
  /** The model this run calls through (its budget, limits and books); default: the runner's. */
  model?: ModelClient;
  /** The task's box (`--isolation box`): every tool call of the run goes into it; absent: the tools run here, on `workspace`. */
  box?: TaskBox;
}

export type RunWorker = (input: WorkerRunInput, signal: AbortSignal) => Promise<WorkerResult>;
export type { AgentDefinition };
