import type Anthropic from '@anthropic-ai/sdk';
import type { ModelClient } from '../models/types.ts';
import { addUsage, ZERO_USAGE, type Usage } from '../protocol/output.ts';
import type { AgentDefinition } from './agentFile.ts';
import { FileChangeLog, type FileChanges } from './changes.ts';
import { AgentTokenBudgetError, AgentTurnLimitError, WorkerAbortedError } from './errors.ts';
import { DATA_RULE } from '../models/fence.ts';
import { runToolUse } from './runToolUse.ts';
import { getTools, type BashOptions, type Tool, type ToolContext } from './tools/index.ts';
import type { SandboxBinds } from './sandbox/sandbox.ts';
import type { Workspace } from './workspace.ts';
import type { TaskBox } from './box/types.ts';
import { usageOf } from '../models/usage.ts';
import { asParam } from '../models/history.ts';
import { modelInfo, type Effort } from '../models/catalog.ts';
import { ModelStopError } from './modelStopError.ts';

type MessageParam = Anthropic.Messages.MessageParam;
type ContentBlockParam = Anthropic.Messages.ContentBlockParam;

const EPHEMERAL = { type: 'ephemeral' } as const;

export type AgentLoopEvent =
  | { type: 'turn'; turn: number; stopReason: Anthropic.Messages.StopReason | null; usage: Usage }
  | { type: 'tool'; turn: number; name: string; isError: boolean; durationMs: number };

export interface AgentLoopOptions {
  agent: AgentDefinition;
  /** The first user turn. */
  prompt: string;
  model: ModelClient;
  /** Concrete model id (aliases resolved). */
  modelId: string;
  workspace: Workspace;
  signal: AbortSignal;
  /** Model calls allowed; still wanting tools after the last one is AgentTurnLimitError. */
  maxTurns: number;
  /** max_tokens of each call (at most the model's own limit); an answer cut at it is asked again with twice as many, up to that limit. */
  maxTokens: number;
  /** `output_config.effort`, sent to models that take it (see src/models/catalog.ts). */
  effort?: Effort;
  /** A refusal starts the conversation anew on this model id, once (never a switch in the middle of one). */
  fallbackModelId?: string;
  /** Tokens (input, output, cache reads and writes) all turns together may use; past it, no further turn. */
  tokenBudget: number;
  bash: BashOptions;
  /** What Bash may see besides the system; default: the workspace writable, nothing else. */
  binds?: SandboxBinds;
  /** Who calls the model (the worker's name); the scripted model keys on it. */
  caller: string;
  /** The task's box: every tool call runs in it (`workspace` then only names its root, from Workspace.inBox). */
  box?: TaskBox;
  onEvent?: (event: AgentLoopEvent) => void;
}

export interface AgentLoopResult {
  /** The text blocks of the last answer. */
  finalText: string;
  stopReason: Anthropic.Messages.StopReason | null;
  /** Summed over every model call. */
  usage: Usage;
  turns: number;
  changes: FileChanges;
  /** Files a Write or Edit failed on and that no later call wrote: workspace-relative path and the tool's message. */
  failedWrites: { path: string; error: string }[];
  /** The model that gave the final answer (the fallback, after a refusal). */
  modelId: string;
  /** How the conversation went where the result should say it (a refusal answered by the fallback model). */
  notes: string[];
}

/** The workspace-relative file a Write or Edit call names, or undefined (another tool, no usable path). */
function writeTarget(workspace: Workspace, call: Anthropic.Messages.ToolUseBlock): string | undefined {
  if (call.name !== 'Write' && call.name !== 'Edit') return undefined;
  const file = (call.input as { file_path?: unknown } | null)?.file_path;
  if (typeof file !== 'string' || file === '') return undefined;
  try {
    return workspace.relative(workspace.lexical(file));
  } catch {
    return undefined; // outside the workspace: nothing there could have been written
  }
}

const totalTokens = (u: Usage): number =>
  u.input_tokens + u.output_tokens + u.cache_read_input_tokens + u.cache_creation_input_tokens;

/**
 * The history with a cache breakpoint on its newest block, so each turn
 * reads the previous turns from the prompt cache instead of paying for them
 * again. Only the copy sent carries it: breakpoints are capped at four, and
 * system and tools hold two of them.
 */
function withCacheBreakpoint(messages: readonly MessageParam[]): MessageParam[] {
  const last = messages.at(-1);
  if (last === undefined || last.role === 'system') return [...messages];
  const blocks: ContentBlockParam[] = typeof last.content === 'string' ? [{ type: 'text', text: last.content }] : [...last.content];
  const tail = blocks.at(-1);
  if (tail !== undefined && tail.type !== 'thinking' && tail.type !== 'redacted_thinking') {
    blocks[blocks.length - 1] = { ...tail, cache_control: EPHEMERAL };
  }
  return [...messages.slice(0, -1), { role: last.role, content: blocks }];
}

interface Prefix {
  tools: Tool[];
  definitions: Anthropic.Messages.Tool[];
  system: Anthropic.Messages.TextBlockParam[];
}

// The stable prefix of every request of an agent, built once per agent
// definition: the same objects on every run (never mutated).
const prefixes = new WeakMap<AgentDefinition, Prefix>();
function prefixOf(agent: AgentDefinition): Prefix {
  let prefix = prefixes.get(agent);
  if (prefix === undefined) {
    const tools = getTools(agent.tools);
    const definitions: Anthropic.Messages.Tool[] = tools.map((tool, i) =>
      i === tools.length - 1 ? { ...tool.definition, cache_control: EPHEMERAL } : tool.definition,
    );
    // The agent file's rules, then the one rule no task text can lift: task data is data.
    const text = `${agent.systemPrompt}\n\n${DATA_RULE}`;
    const system: Anthropic.Messages.TextBlockParam[] = [{ type: 'text', text, cache_control: EPHEMERAL }];
    prefix = { tools, definitions, system };
    prefixes.set(agent, prefix);
  }
  return prefix;
}

/**
 * The history with an answer's content as its last assistant turn: a turn
 * a `pause_turn` left open goes on in the same message (roles alternate).
 */
function withAnswer(messages: MessageParam[], content: ContentBlockParam[]): MessageParam[] {
  const last = messages.at(-1);
  if (last?.role === 'assistant' && Array.isArray(last.content)) return [...messages.slice(0, -1), { role: 'assistant', content: [...last.content, ...content] }];
  return content.length > 0 ? [...messages, { role: 'assistant', content }] : messages;
}

/** max_tokens as configured, never above what the model accepts. */
const maxTokensOf = (modelId: string, configured: number): number => Math.min(configured, modelInfo(modelId)?.maxOutputTokens ?? configured);

/** The refusal's category, as the answer's stop_details names it. */
function refusalOf(answer: Anthropic.Messages.Message): string {
  const details = (answer as { stop_details?: { category?: string | null } | null }).stop_details;
  return details?.category ? `category ${details.category}` : 'no category given';
}

function checkAborted(signal: AbortSignal): void {
  if (signal.aborted) throw new WorkerAbortedError(signal.reason);
}

/**
 * Runs one agent to the end of its task: call the model, run the tools it
 * asks for (each failure goes back to it as an `is_error` result, never out
 * of the loop), repeat until it stops asking. Every stop reason ends
 * truthfully (docs/model-api.md, "Stop reasons"): `pause_turn` is sent back
 * and goes on; `max_tokens` is asked again with more, up to the model's
 * limit, else ModelStopError `truncated`; `refusal` starts anew on the
 * fallback model once, else `refusal`; `model_context_window_exceeded` is
 * `context_exceeded`; an empty final answer from a run that changed nothing
 * is `no_work`. System prompt and tools carry
 * cache breakpoints: they are the same on every turn of every run of this
 * agent.
 *
 * @example
 * const result = await runAgentLoop({ agent, prompt, model, modelId: 'claude-sonnet-5-5', workspace,
 *   signal, maxTurns: 40, maxTokens: 8192, bash, caller: 'db-worker' });
 */
export async function runAgentLoop(options: AgentLoopOptions): Promise<AgentLoopResult> {
  const { agent, model, signal, workspace } = options;
  const { tools, definitions, system } = prefixOf(agent);
  const changes = new FileChangeLog(workspace.root);
  const ctx: ToolContext = {
    workspace,
    changes,
    signal,
    bash: options.bash,
    ...(options.binds ? { binds: options.binds } : {}),
    ...(options.box ? { box: options.box } : {}),
  };
  let messages: MessageParam[] = [{ role: 'user', content: options.prompt }];
  let usage = ZERO_USAGE;
  const failedWrites = new Map<string, string>();
  let modelId = options.modelId;
  let maxTokens = maxTokensOf(modelId, options.maxTokens);
  const notes: string[] = [];

  for (let turn = 1; ; turn++) {
    checkAborted(signal);
    if (turn > options.maxTurns) throw new AgentTurnLimitError(options.maxTurns);
    const used = totalTokens(usage);
    if (used > options.tokenBudget) throw new AgentTokenBudgetError(options.tokenBudget, used);
    const answer = await model.createMessage(
      {
        model: modelId,
        max_tokens: maxTokens,
        system,
        messages: withCacheBreakpoint(messages),
        ...(definitions.length > 0 ? { tools: definitions } : {}),
        ...(options.effort !== undefined && modelInfo(modelId)?.effort === true ? { output_config: { effort: options.effort } } : {}),
      },
      { signal, caller: options.caller },
    );
    usage = addUsage(usage, usageOf(answer));
    options.onEvent?.({ type: 'turn', turn, stopReason: answer.stop_reason, usage });
    const content = answer.content.flatMap(asParam);
    switch (answer.stop_reason) {
      case 'refusal': {
        const why = refusalOf(answer);
        if (options.fallbackModelId !== undefined && modelId !== options.fallbackModelId) {
          // A new conversation: another model cannot read this one's thinking blocks.
          notes.push(`${modelId} declined this part (${why}); ${options.fallbackModelId} did it`);
          modelId = options.fallbackModelId;
          maxTokens = maxTokensOf(modelId, options.maxTokens);
          messages = [{ role: 'user', content: options.prompt }];
          continue;
        }
        throw new ModelStopError('refusal', `${modelId} declined this part of the task (${why})${options.fallbackModelId === undefined ? '; a fallback model (anthropic.fallbackModel) would be tried once' : ''}`);
      }
      case 'model_context_window_exceeded':
        throw new ModelStopError('context_exceeded', `the conversation outgrew ${modelId}'s context window after ${turn} turns: give the worker a smaller part of the task`);
      case 'max_tokens': {
        // The cut answer is dropped whole: a cut tool call never runs, and an assistant prefill would be refused.
        const limit = modelInfo(modelId)?.maxOutputTokens ?? maxTokens;
        if (maxTokens < limit) {
          maxTokens = Math.min(limit, maxTokens * 2);
          continue;
        }
        throw new ModelStopError('truncated', `the answer was cut off at max_tokens ${maxTokens}, ${modelId}'s limit: give the worker a smaller part of the task`);
      }
      case 'pause_turn':
        // The API paused a long turn: the answer goes back as it is, and the model goes on from there.
        messages = withAnswer(messages, content);
        continue;
    }
    const calls = answer.content.filter((b): b is Anthropic.Messages.ToolUseBlock => b.type === 'tool_use');
    if (answer.stop_reason !== 'tool_use' || calls.length === 0) {
      const finalText = answer.content.flatMap((b) => (b.type === 'text' ? [b.text] : [])).join('\n');
      const snapshot = changes.snapshot();
      if (finalText.trim() === '' && snapshot.created.length + snapshot.modified.length + snapshot.deleted.length === 0) {
        throw new ModelStopError('no_work', `${modelId} ended its turn (${answer.stop_reason ?? 'no stop reason'}) with no answer and no change in the workspace: the worker did nothing, and is tried again while it has attempts`);
      }
      const written = new Set([...snapshot.created, ...snapshot.modified]);
      const failed = [...failedWrites].filter(([file]) => !written.has(file)).map(([file, error]) => ({ path: file, error }));
      return { finalText, stopReason: answer.stop_reason, usage, turns: turn, changes: snapshot, failedWrites: failed, modelId, notes };
    }
    messages = withAnswer(messages, content);
    const results: Anthropic.Messages.ToolResultBlockParam[] = [];
    for (const call of calls) {
      // The file tools are synchronous inside: without a turn of the event loop between calls, an
      // answer with hundreds of them would hold off /healthz, heartbeats and other tasks until the last.
      await new Promise<void>((resolve) => setImmediate(resolve));
      const started = Date.now();
      const result = await runToolUse(call, tools, ctx);
      checkAborted(signal);
      options.onEvent?.({ type: 'tool', turn, name: call.name, isError: result.is_error === true, durationMs: Date.now() - started });
      const target = writeTarget(workspace, call);
      if (target !== undefined) {
        if (result.is_error) failedWrites.set(target, typeof result.content === 'string' ? result.content : `${call.name} failed`);
        else failedWrites.delete(target);
      }
      results.push(result);
    }
    messages.push({ role: 'user', content: results });
  }
}
