import type Anthropic from '@anthropic-ai/sdk';
import { APIUserAbortError } from '@anthropic-ai/sdk';
import { looks, scriptedFix, scriptedWork, type ScriptedContext } from './scriptedFiles.ts';
import { descriptionFromPrompt } from './scriptedResource.ts';
import type { Message, MessageParams, ModelClient } from './types.ts';
import { OrchestratorError } from '../errors.ts';
import { FIX_ROUND_HEADING } from '../protocol/checks.ts';

type ContentBlock = Anthropic.Messages.ContentBlock;

export interface ScriptedModelOptions {
  /** Time the first call of each worker run (and each planner call) takes, per caller. */
  latencyMs: (caller: string) => number;
  /** Callers whose every call fails with ScriptedFailureError. */
  fail: ReadonlySet<string>;
  /** Called at every model call, before anything else (tests and benchmarks count calls). */
  onCall?: (caller: string) => void;
  /**
   * Write the planted bugs (the email check of registration lets `ada@example`
   * through) on a first try, for the demo of a failing check; a fix round
   * mends them either way (scripted.bug / ORCH_SCRIPTED_BUG).
   */
  bug?: boolean;
}

/**
 * The model failure of a caller listed in `fail`. It stands for an API
 * failure that outlasted the model call's own retries (a long 529 spell), so
 * it is retryable: the worker's retry states run, and since the
 * caller fails on every call, the worker ends `failed` after its last
 * attempt, which is what the failure-policy demos and tests need.
 */
export class ScriptedFailureError extends OrchestratorError {
  override readonly retryable = true;
  constructor(readonly caller: string) {
    super(`the scripted model is set to fail every call of ${caller} (scripted.fail / ORCH_SCRIPTED_FAIL): remove it there to let it succeed`);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new APIUserAbortError());
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new APIUserAbortError());
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * About the length of `value` as JSON, without building that text: the
 * conversation is sent whole on every call and grows with each file, and
 * stringifying it cost more than the rest of the scripted model. Strings
 * count as their length plus quotes (the backslashes of escaped quotes and
 * newlines are not counted): 2-3 % under JSON.stringify's length for the
 * worker prompts and the scripted files, well inside what an estimate of
 * four characters a token can claim.
 */
function jsonChars(value: unknown): number {
  if (typeof value === 'string') return value.length + 2;
  if (typeof value !== 'object' || value === null) return value === undefined ? 0 : String(value).length;
  if (Array.isArray(value)) {
    let n = 1 + Math.max(value.length, 1);
    for (const item of value) n += item === undefined ? 4 : jsonChars(item);
    return n;
  }
  let n = 1;
  for (const key in value) {
    const field = (value as Record<string, unknown>)[key];
    if (field !== undefined && Object.hasOwn(value, key)) n += key.length + 4 + jsonChars(field);
  }
  return n === 1 ? 2 : n;
}

const tokens = (value: unknown): number => Math.ceil(JSON.stringify(value ?? '').length / 4);
/** `tokens` of the whole conversation, sent on every call: estimated without building its JSON. */
const conversationTokens = (messages: readonly unknown[]): number => Math.ceil(jsonChars(messages) / 4);

// System prompt and tools are the same objects on every turn of every run of
// an agent (see the agent loop): count them once.
const counted = new WeakMap<object, number>();
function prefixTokens(value: object | undefined | string): number {
  if (value === undefined || typeof value === 'string') return tokens(value);
  let n = counted.get(value);
  if (n === undefined) counted.set(value, (n = tokens(value)));
  return n;
}

function firstUserText(params: MessageParams): string {
  const content = params.messages[0]?.content ?? '';
  if (typeof content === 'string') return content;
  return content.flatMap((b) => (b.type === 'text' ? [b.text] : [])).join('\n');
}

function toolUse(turn: number, index: number, name: string, input: Record<string, unknown>): ContentBlock {
  return { type: 'tool_use', id: `toolu_scripted_${turn}_${index}`, name, input, caller: { type: 'direct' } };
}

const text = (value: string): ContentBlock => ({ type: 'text', text: value, citations: null });

/** Usage as the API counts it: the stable prefix (system, tools) is written to the cache once, then read. */
function message(params: MessageParams, caller: string, turn: number, content: ContentBlock[], stop: 'tool_use' | 'end_turn'): Message {
  const prefix = prefixTokens(params.system) + prefixTokens(params.tools);
  return {
    id: `msg_scripted_${caller}_${turn}`,
    type: 'message',
    role: 'assistant',
    model: params.model,
    content,
    stop_reason: stop,
    stop_sequence: null,
    stop_details: null,
    container: null,
    diagnostics: null,
    usage: {
      input_tokens: conversationTokens(params.messages),
      output_tokens: tokens(content),
      cache_creation_input_tokens: turn === 1 ? prefix : 0,
      cache_read_input_tokens: turn === 1 ? 0 : prefix,
      cache_creation: null,
      inference_geo: null,
      output_tokens_details: null,
      server_tool_use: null,
      service_tier: 'standard',
      speed: null,
    },
  };
}

/** The task's data in a worker prompt (its first fenced task data), or the description the heading form gives. */
function taskOf(prompt: string): { description: string; requirements: string[] } {
  const fenced = /<task-data>\n([\s\S]*?)\n<\/task-data>/.exec(prompt)?.[1];
  let requirements: string[] = [];
  if (fenced !== undefined) {
    try {
      const data = JSON.parse(fenced) as { requirements?: unknown };
      if (Array.isArray(data.requirements)) requirements = data.requirements.filter((q): q is string => typeof q === 'string');
    } catch {
      // Not the task's data: no requirements.
    }
  }
  return { description: descriptionFromPrompt(prompt), requirements };
}

/** The plan as the prompt states it: its workers, and whether the caller's step runs first. */
function planOf(prompt: string, caller: string): { planned: Set<string>; runsFirst: boolean } {
  const steps = [...prompt.matchAll(/^- ([a-z]+-worker)( \(you\))?, runs (first|after)/gm)];
  if (steps.length === 0) return { planned: new Set([caller]), runsFirst: true };
  return { planned: new Set(steps.map((m) => m[1]!)), runsFirst: steps.some((m) => m[1] === caller && m[3] === 'first') };
}

interface ToolCall {
  id: string;
  name: string;
  input: Record<string, unknown>;
  /** Its result's text, and whether it is an error; undefined while unanswered. */
  result: { text: string; error: boolean } | undefined;
}

/** Every tool call of the conversation so far, with its result. */
function toolCalls(params: MessageParams): ToolCall[] {
  const results = new Map<string, { text: string; error: boolean }>();
  for (const m of params.messages) {
    if (m.role !== 'user' || typeof m.content === 'string') continue;
    for (const b of m.content) {
      if (b.type !== 'tool_result') continue;
      const text = typeof b.content === 'string' ? b.content : (b.content ?? []).flatMap((c) => (c.type === 'text' ? [c.text] : [])).join('\n');
      results.set(b.tool_use_id, { text, error: b.is_error === true });
    }
  }
  return params.messages
    .flatMap((m) => (m.role === 'assistant' && typeof m.content !== 'string' ? m.content : []))
    .flatMap((b) => (b.type === 'tool_use' ? [{ id: b.id, name: b.name, input: b.input as Record<string, unknown>, result: results.get(b.id) }] : []));
}

/** A Read result back to the file's text (the `cat -n` numbers taken off). */
function unnumbered(text: string): string {
  if (/^<.* is empty>$/.test(text)) return '';
  return `${text.split('\n').flatMap((l) => /^ *\d+\t/.exec(l) ? [l.replace(/^ *\d+\t/, '')] : []).join('\n')}\n`;
}

/** What the caller knows from its prompt and the tool results so far. */
function contextOf(params: MessageParams, caller: string, calls: readonly ToolCall[], bug: boolean): ScriptedContext {
  const prompt = firstUserText(params);
  const files = new Set<string>();
  const read = new Map<string, string>();
  for (const call of calls) {
    if (call.result === undefined || call.result.error) continue;
    if (call.name === 'Glob') {
      for (const line of call.result.text.split('\n')) if (line !== '' && !line.startsWith('… ') && !line.startsWith('No files match')) files.add(line);
    } else if (call.name === 'Read') {
      read.set(String(call.input.file_path), unnumbered(call.result.text));
    }
  }
  return { worker: caller, ...taskOf(prompt), ...planOf(prompt, caller), files, read, bug };
}

function report(summary: string, issues: string[]): string {
  return `Done.\n\n\`\`\`json\n${JSON.stringify({ summary, issues }, null, 2)}\n\`\`\``;
}

/** A summary as a commit subject reads well (`db-worker: Added …`), saying whose words these are at its end. */
const sentence = (parts: readonly string[]): string => {
  const text = parts.join('; ');
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}. (scripted stand-in)`;
};

/**
 * One turn of a worker: look at the workspace (Glob), read what it is about
 * to change, write its part, then report what the writes that succeeded
 * did. Each turn is decided again from the conversation, so the same task on
 * the same workspace always takes the same steps.
 */
function workerTurn(params: MessageParams, caller: string, turn: number, bug: boolean): Message {
  const offered = new Set((params.tools ?? []).flatMap((t) => ('name' in t ? [t.name] : [])));
  const calls = toolCalls(params);
  const end = (summary: string, issues: string[]) => message(params, caller, turn, [text(report(summary, issues))], 'end_turn');
  const ask = (intro: string, asked: { name: string; input: Record<string, unknown> }[]) =>
    message(params, caller, turn, [text(intro), ...asked.map((c, i) => toolUse(turn, i, c.name, c.input))], 'tool_use');
  if (!offered.has('Write') || !offered.has('Edit')) return end(sentence(['wrote nothing: the Write and Edit tools were not offered']), ['the Write and Edit tools were not offered']);
  if (offered.has('Glob') && !calls.some((c) => c.name === 'Glob')) {
    return ask('Looking at the workspace first.', looks(descriptionFromPrompt(firstUserText(params))).map((pattern) => ({ name: 'Glob', input: { pattern } })));
  }
  const context = contextOf(params, caller, calls, bug);
  // A fix round mends what the checks caught (the stand-in's planted bugs) instead of doing its part again.
  const step = firstUserText(params).includes(FIX_ROUND_HEADING) ? scriptedFix(context) : scriptedWork(context);
  const writes = calls.filter((c) => c.name === 'Write' || c.name === 'Edit');
  if (writes.length > 0 && !('reads' in step)) {
    // The final answer: what the writes that succeeded did, and the failures as issues.
    const failed = writes.filter((c) => c.result?.error).map((c) => c.result!.text);
    const done = step.ops.filter((op) => writes.some((c) => c.input.file_path === op.path && c.result && !c.result.error)).map((op) => op.what);
    const summary = done.length > 0 ? sentence([`${step.verb ?? 'added'} ${done.join('; ')}`, ...step.notes]) : sentence(['changed nothing: every write failed']);
    return end(summary, [...step.issues, ...failed]);
  }
  if ('reads' in step) {
    const attempted = new Set(calls.filter((c) => c.name === 'Read').map((c) => String(c.input.file_path)));
    const pending = step.reads.filter((file) => !attempted.has(file));
    if (pending.length > 0 && offered.has('Read')) return ask('Reading what I am about to change.', pending.map((file_path) => ({ name: 'Read', input: { file_path } })));
    const missing = step.reads.join(', ');
    return end(sentence([`changed nothing: it could not read ${missing}`]), [`could not read ${missing}, so it was not changed`]);
  }
  if (step.ops.length === 0) return end(sentence(step.notes.length > 0 ? step.notes : ['nothing to do']), step.issues);
  return ask(
    `Writing the ${caller} part.`,
    step.ops.map((op) =>
      op.tool === 'Write'
        ? { name: 'Write', input: { file_path: op.path, content: op.content } }
        : { name: 'Edit', input: { file_path: op.path, old_string: op.old, new_string: op.new } },
    ),
  );
}

/**
 * A deterministic, offline ModelClient that drives the same worker path as
 * the real model, with the same tools: a worker looks at the workspace
 * (Glob), reads the files it is about to change, writes small working code
 * for its part (see scriptedWork: migrations numbered after the existing
 * ones, hashing, tokens and role checks with their tests, validated routes
 * mounted in the app), and ends with a JSON report of what the writes that
 * succeeded did. The `planner` gets plain text, so an LLM planner over it
 * falls back to its keyword plan.
 *
 * @example
 * const model = createScriptedModel({ latencyMs: () => 0, fail: new Set(['api-worker']) });
 */
export function createScriptedModel(options: ScriptedModelOptions): ModelClient {
  return {
    kind: 'scripted',
    async createMessage(params, { signal, caller }) {
      options.onCall?.(caller);
      if (signal.aborted) throw new APIUserAbortError();
      const turn = params.messages.filter((m) => m.role === 'assistant').length + 1;
      // Latency once per worker run, not per turn: a run's cost is dominated by its first answer.
      // Zero means no wait at all: a 0 ms timer still costs a turn of the event loop (about 1 ms).
      const latency = turn === 1 ? options.latencyMs(caller) : 0;
      if (latency > 0) await sleep(latency, signal);
      if (options.fail.has(caller)) throw new ScriptedFailureError(caller);
      if (caller === 'planner') {
        return message(params, caller, turn, [text('The scripted model does not plan tasks.')], 'end_turn');
      }
      return workerTurn(params, caller, turn, options.bug === true);
    },
  };
}
