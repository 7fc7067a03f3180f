import type { Usage } from '../protocol/output.ts';
import type { Message } from './types.ts';

/** A model answer's token usage in our shape: the cache counts the API may omit are 0. */
export function usageOf(message: Message): Usage {
  const u = message.usage;
  return {
    input_tokens: u.input_tokens,
    output_tokens: u.output_tokens,
    cache_read_input_tokens: u.cache_read_input_tokens ?? 0,
    cache_creation_input_tokens: u.cache_creation_input_tokens ?? 0,
  };
}
