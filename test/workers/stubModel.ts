import type Anthropic from '@anthropic-ai/sdk';
import type { Message, MessageParams, ModelCallOptions, ModelClient } from '../../src/models/types.ts';

type Block = { type: 'text'; text: string } | { type: 'tool_use'; id: string; name: string; input: unknown };

/** A complete Message as the SDK returns it. */
export function reply(blocks: Block[], usage: Partial<Anthropic.Messages.Usage> = {}): Message {
  const content: Anthropic.Messages.ContentBlock[] = blocks.map((b) =>
    b.type === 'text' ? { ...b, citations: null } : { ...b, caller: { type: 'direct' } },
  );
  return {
    id: 'msg_stub', type: 'message', role: 'assistant', model: 'claude-sonnet-4-5', content,
    stop_reason: blocks.some((b) => b.type === 'tool_use') ? 'tool_use' : 'end_turn',
    stop_sequence: null, stop_details: null, container: null, diagnostics: null,
    usage: {
      input_tokens: 100, output_tokens: 10, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, cache_creation: null,
      inference_geo: null, output_tokens_details: null, server_tool_use: null, service_tier: 'standard', speed: null, ...usage,
    },
  };
}

export const toolUse = (id: string, name: string, input: unknown): Block => ({ type: 'tool_use', id, name, input });
export const text = (value: string): Block => ({ type: 'text', text: value });

/** A ModelClient answering from a list, recording a deep copy of each request. */
export function stubModel(answers: Array<Message | ((params: MessageParams) => Message)>) {
  const calls: Array<{ params: MessageParams; options: ModelCallOptions }> = [];
  const model: ModelClient = {
    kind: 'scripted',
    async createMessage(params, options) {
      calls.push({ params: structuredClone(params), options });
      const next = answers[calls.length - 1];
      if (next === undefined) throw new Error(`stubModel: no answer for call ${calls.length}`);
      return typeof next === 'function' ? next(params) : next;
    },
  };
  return { model, calls };
}

/** The tool_result blocks of the last user turn of a request. */
export function toolResults(params: MessageParams): Anthropic.Messages.ToolResultBlockParam[] {
  const content = params.messages.at(-1)?.content;
  if (typeof content === 'string' || content === undefined) return [];
  return (content as Anthropic.Messages.ContentBlockParam[]).filter((b): b is Anthropic.Messages.ToolResultBlockParam => b.type === 'tool_result');
}
