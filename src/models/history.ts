import type Anthropic from '@anthropic-ai/sdk';

/**
 * An answer's block as history to send back: only what a request accepts
 * (no response-only fields). An empty or whitespace-only text block is
 * dropped (the API refuses it in a request, even one it sent); a thinking
 * block goes back unchanged (its signature covers it, and it is tied to the
 * model and the conversation); server-tool blocks are dropped (no server
 * tools are offered).
 *
 * @example
 * const content = answer.content.flatMap(asParam);
 */
export function asParam(block: Anthropic.Messages.ContentBlock): Anthropic.Messages.ContentBlockParam[] {
  switch (block.type) {
    case 'text':
      return block.text.trim() === '' ? [] : [{ type: 'text', text: block.text }];
    case 'tool_use':
      return [{ type: 'tool_use', id: block.id, name: block.name, input: block.input }];
    case 'thinking':
      return [{ type: 'thinking', thinking: block.thinking, signature: block.signature }];
    case 'redacted_thinking':
      return [{ type: 'redacted_thinking', data: block.data }];
    default:
      return [];
  }
}
