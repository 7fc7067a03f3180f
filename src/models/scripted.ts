import type Anthropic from '@anthropic-ai/sdk';
import { APIUserAbortError } from '@anthropic-ai/sdk';
import { scriptedFiles, scriptedReads } from './scriptedFiles.ts';
import { descriptionFromPrompt, resourceFromPrompt } from './scriptedResource.ts';
import type { Message, MessageParams, ModelClient } from './types.ts';
import { OrchestratorError } from '../errors.ts';

type ContentBlock = Anthropic.Messages.ContentBlock;

export interface ScriptedModelOptions {
  /** Time the first call of each worker run (and each planner call) takes, per caller. */
  latencyMs: (caller: string) => number;
  /** Callers whose every call fails with ScriptedFailureError. */
  fail: ReadonlySet<string>;
  /** Called at every model call, before anything else (tests and benchmarks count calls). */
  onCall?: (caller: string) => void;
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

/** First turn of a worker: the Reads and Writes of its part, or a report saying why it cannot. */
function firstTurn(params: MessageParams, caller: string): Message {
  const prompt = firstUserText(params);
  const description = descriptionFromPrompt(prompt);
  const resource = resourceFromPrompt(prompt, description);
  const offered = new Set((params.tools ?? []).flatMap((t) => ('name' in t ? [t.name] : [])));
  const files = scriptedFiles(caller, resource, description);
  if (files.length === 0 || !offered.has('Write')) {
    const why = files.length === 0 ? `${caller} has no scripted part` : 'the Write tool was not offered';
    return message(params, caller, 1, [text(report(`Nothing written: ${why}.`, [why]))], 'end_turn');
  }
  const reads = offered.has('Read') ? scriptedReads(caller, resource, prompt) : [];
  const calls = [
    ...reads.map((path) => ({ name: 'Read', input: { file_path: path } })),
    ...files.map((f) => ({ name: 'Write', input: { file_path: f.path, content: f.content } })),
  ];
  const intro = text(`Writing the ${resource.singular} part of ${caller}.`);
  return message(params, caller, 1, [intro, ...calls.map((c, i) => toolUse(1, i, c.name, c.input))], 'tool_use');
}

function report(summary: string, issues: string[]): string {
  return `Done.\n\n\`\`\`json\n${JSON.stringify({ summary, issues }, null, 2)}\n\`\`\``;
}

/** After the tool results: the final answer, listing what failed as issues. */
function finalTurn(params: MessageParams, caller: string, turn: number): Message {
  const last = params.messages.at(-1)?.content;
  const failed = (typeof last === 'string' ? [] : (last ?? [])).flatMap((b) => (b.type === 'tool_result' && b.is_error === true ? [b] : []));
  const failures = failed.map((b) => (typeof b.content === 'string' ? b.content : 'a tool failed'));
  const failedIds = new Set(failed.map((b) => b.tool_use_id));
  // Only the Writes that succeeded: a summary names no file that was not written.
  const written = params.messages
    .flatMap((m) => (m.role === 'assistant' && typeof m.content !== 'string' ? m.content : []))
    .flatMap((b) => (b.type === 'tool_use' && b.name === 'Write' && !failedIds.has(b.id) ? [String((b.input as { file_path?: unknown }).file_path)] : []));
  const summary = written.length > 0 ? `${caller} (scripted) wrote ${written.join(', ')}.` : `${caller} (scripted) wrote nothing: every write failed.`;
  return message(params, caller, turn, [text(report(summary, failures))], 'end_turn');
}

/**
 * A deterministic, offline ModelClient that drives the same worker path as
 * the real model: its first answer asks for tool calls that write plausible
 * files for the caller's part (db-worker: model and migration; auth-worker:
 * password, tokens, middleware; api-worker: routes, reading the model first
 * when its prompt names it), and its second ends the turn with a JSON
 * report. The `planner` gets plain text, so an LLM planner over it falls
 * back to its keyword plan.
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
      return turn === 1 ? firstTurn(params, caller) : finalTurn(params, caller, turn);
    },
  };
}
