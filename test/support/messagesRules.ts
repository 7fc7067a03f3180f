import { createHmac } from 'node:crypto';
import type Anthropic from '@anthropic-ai/sdk';

/**
 * The documented request rules of the Messages API that the orchestrator
 * could break, per model (platform.claude.com/docs: each model's "What's
 * new" and migration pages, "Handling stop reasons", extended and adaptive
 * thinking, prompt caching, tool use). A strict fake answers a request that
 * breaks one with the 400 the API gives.
 */
export interface ModelRules {
  /** tool_choice `any`/`tool` refused (always; and on every model while thinking is on). */
  forcedToolUse: 'refused' | 'refused_with_thinking';
  /** Thinking when the request says nothing. */
  thinkingDefault: 'adaptive' | 'off';
  /** Thinking types refused. */
  thinkingRefused: readonly Anthropic.Messages.ThinkingConfigParam['type'][];
  samplingRefused: boolean;
  /** Last message from the assistant (prefill) refused, except sending back a pause_turn answer. */
  prefillRefused: boolean;
  effort: boolean;
  structuredOutputs: boolean;
  maxOutputTokens: number;
}

const CURRENT: ModelRules = {
  forcedToolUse: 'refused',
  thinkingDefault: 'adaptive',
  thinkingRefused: ['disabled', 'enabled'],
  samplingRefused: true,
  prefillRefused: true,
  effort: true,
  structuredOutputs: true,
  maxOutputTokens: 128_000,
};

/** The models the fake knows, current and legacy; any other id gets the rules every model shares. */
export const MODEL_RULES: Readonly<Record<string, ModelRules>> = {
  'claude-sonnet-5-5': { ...CURRENT, thinkingRefused: ['disabled', 'enabled'] },
  'claude-opus-5-5': CURRENT,
  'claude-fable-5-2': CURRENT,
  'claude-haiku-5-5': { ...CURRENT, forcedToolUse: 'refused_with_thinking', thinkingRefused: ['enabled'] },
  'claude-sonnet-4-6': { forcedToolUse: 'refused_with_thinking', thinkingDefault: 'off', thinkingRefused: [], samplingRefused: false, prefillRefused: true, effort: true, structuredOutputs: true, maxOutputTokens: 64_000 },
  'claude-opus-4-6': { forcedToolUse: 'refused_with_thinking', thinkingDefault: 'off', thinkingRefused: [], samplingRefused: false, prefillRefused: true, effort: true, structuredOutputs: true, maxOutputTokens: 128_000 },
  'claude-haiku-4-5': { forcedToolUse: 'refused_with_thinking', thinkingDefault: 'off', thinkingRefused: ['adaptive'], samplingRefused: false, prefillRefused: false, effort: false, structuredOutputs: true, maxOutputTokens: 64_000 },
};

const SHARED: ModelRules = {
  forcedToolUse: 'refused_with_thinking', thinkingDefault: 'off', thinkingRefused: [], samplingRefused: false, prefillRefused: false,
  effort: true, structuredOutputs: true, maxOutputTokens: 128_000,
};

export const rulesOf = (model: string): ModelRules => MODEL_RULES[model] ?? SHARED;

/** The signature the fake gives a thinking block: tied to the model and the text, so a changed or moved block fails. */
export const signThinking = (model: string, thinking: string): string => createHmac('sha256', 'fake-thinking').update(`${model}\n${thinking}`).digest('base64');

type Block = Anthropic.Messages.ContentBlockParam;
const blocksOf = (m: Anthropic.Messages.MessageParam): Block[] => (typeof m.content === 'string' ? [{ type: 'text', text: m.content }] : m.content);
const withoutCache = (b: Block): Block => {
  const { cache_control: _c, ...rest } = b as Block & { cache_control?: unknown };
  return rest as Block;
};

export interface RuleContext {
  /** Content of the pause_turn answers given so far (request blocks, no empty text): what may end a request as its last assistant message. */
  pausedAnswers: readonly string[];
}

/**
 * The reason the API would refuse this request with a 400, or undefined.
 *
 * @example
 * checkRequest(body, { pausedAnswers: [] }) // 'tool_choice forces a tool, which claude-sonnet-5-5 refuses: ...'
 */
export function checkRequest(body: Anthropic.Messages.MessageCreateParams, context: RuleContext): string | undefined {
  const model = String(body.model);
  const rules = rulesOf(model);
  const thinkingType = body.thinking?.type ?? rules.thinkingDefault;
  const thinkingOn = thinkingType !== 'disabled' && thinkingType !== 'off';
  if (body.thinking && rules.thinkingRefused.includes(body.thinking.type)) return `thinking.type: "${body.thinking.type}" is not supported on ${model}`;
  const choice = body.tool_choice?.type;
  if ((choice === 'any' || choice === 'tool') && (rules.forcedToolUse === 'refused' || thinkingOn)) {
    return `tool_choice: forced tool use (${choice}) is not supported on ${model}${thinkingOn ? ' with thinking on' : ''}; use tool_choice auto`;
  }
  for (const p of ['temperature', 'top_p', 'top_k'] as const) {
    if ((body as unknown as Record<string, unknown>)[p] !== undefined && (rules.samplingRefused || thinkingOn)) return `${p}: sampling parameters are not supported on ${model}${rules.samplingRefused ? '' : ' with thinking on'}`;
  }
  if (body.output_config?.effort != null && !rules.effort) return `output_config.effort: not supported on ${model}`;
  if (body.output_config?.format != null && !rules.structuredOutputs) return `output_config.format: structured outputs are not supported on ${model}`;
  if (body.max_tokens > rules.maxOutputTokens) return `max_tokens: ${body.max_tokens} > ${rules.maxOutputTokens}, the maximum allowed for ${model}`;

  // Cache breakpoints: at most four over tools, system and messages.
  const breakpoints = [
    ...(body.tools ?? []),
    ...(Array.isArray(body.system) ? body.system : []),
    ...body.messages.flatMap(blocksOf),
  ].filter((b) => (b as { cache_control?: unknown }).cache_control != null).length;
  if (breakpoints > 4) return `A maximum of 4 blocks with cache_control may be provided. Found ${breakpoints}.`;

  const messages = body.messages;
  if (messages.length === 0 || messages[0]!.role !== 'user') return 'messages: the first message must use the "user" role';
  for (const [i, m] of messages.entries()) {
    const blocks = blocksOf(m);
    if (blocks.length === 0) return `messages.${i}: all messages must have non-empty content`;
    for (const [j, b] of blocks.entries()) {
      if (b.type === 'text' && b.text.length === 0) return `messages.${i}.content.${j}.text: text content blocks must be non-empty`;
      if (b.type === 'text' && b.text.trim() === '') return `messages.${i}.content.${j}.text: text content blocks must contain non-whitespace text`;
      if (b.type === 'thinking' && (m.role !== 'assistant' || b.signature !== signThinking(model, b.thinking))) {
        return `messages.${i}.content.${j}: Invalid \`signature\` in \`thinking\` block (changed, or made by another model than ${model})`;
      }
      if ((b.type === 'thinking' || b.type === 'redacted_thinking') && (b as { cache_control?: unknown }).cache_control != null) {
        return `messages.${i}.content.${j}: thinking blocks cannot carry cache_control`;
      }
    }
    // Every tool_use is answered by a tool_result in the very next message, and every tool_result answers one.
    const uses = blocks.filter((b) => b.type === 'tool_use').map((b) => (b as Anthropic.Messages.ToolUseBlockParam).id);
    const results = blocks.filter((b) => b.type === 'tool_result').map((b) => (b as Anthropic.Messages.ToolResultBlockParam).tool_use_id);
    if (m.role === 'assistant' && uses.length > 0 && i < messages.length - 1) {
      const next = blocksOf(messages[i + 1]!).filter((b) => b.type === 'tool_result').map((b) => (b as Anthropic.Messages.ToolResultBlockParam).tool_use_id);
      const missing = uses.filter((id) => !next.includes(id));
      if (missing.length > 0) return `messages.${i + 1}: tool_use ids were found without tool_result blocks immediately after: ${missing.join(', ')}`;
    }
    if (results.length > 0) {
      const before = i > 0 && messages[i - 1]!.role === 'assistant' ? blocksOf(messages[i - 1]!).filter((b) => b.type === 'tool_use').map((b) => (b as Anthropic.Messages.ToolUseBlockParam).id) : [];
      const stray = results.filter((id) => !before.includes(id));
      if (stray.length > 0) return `messages.${i}: unexpected tool_use_id found in tool_result blocks: ${stray.join(', ')}. Each tool_result block must have a corresponding tool_use block in the previous message.`;
    }
    if (i > 0 && messages[i - 1]!.role === m.role) return `messages.${i}: roles must alternate between "user" and "assistant"`;
  }
  const last = messages.at(-1)!;
  if (last.role === 'assistant') {
    if (messages.length > 0 && messages.at(-2)?.role === 'assistant') return 'messages: roles must alternate';
    const json = JSON.stringify(blocksOf(last).map(withoutCache));
    const resumed = context.pausedAnswers.some((paused) => json.endsWith(paused.slice(1)));
    if (rules.prefillRefused && !resumed) return `This model does not support assistant message prefill. The conversation must end with a user message (${model}).`;
  }
  return undefined;
}
