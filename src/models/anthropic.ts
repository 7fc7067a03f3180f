import Anthropic from '@anthropic-ai/sdk';
import type { ModelClient } from './types.ts';

export interface AnthropicModelOptions {
  apiKey: string;
  /** Default: the SDK's (ANTHROPIC_BASE_URL, else https://api.anthropic.com). Tests point it at a local fake. */
  baseURL?: string;
  /** The SDK's own retries of connection errors, 408/409/429/5xx/529; it waits as retry-after says. */
  maxRetries: number;
  /** Per request attempt, in milliseconds. */
  timeoutMs: number;
}

/**
 * The ModelClient over the real Anthropic API, and the only place that
 * constructs the SDK client. Every call streams (`messages.stream`) and
 * returns the accumulated message: a long generation keeps the connection
 * busy instead of tripping idle timeouts of proxies and load balancers, and
 * the SDK refuses large non-streaming max_tokens anyway. The response's
 * headers reach `onHeaders` (through `withResponse()`), for the gate.
 *
 * @example
 * const model = createAnthropicModel({ apiKey, maxRetries: 4, timeoutMs: 600_000 });
 * const message = await model.createMessage(params, { signal, caller: 'db-worker' });
 */
export function createAnthropicModel(options: AnthropicModelOptions): ModelClient {
  if (!options.apiKey) {
    throw new Error('createAnthropicModel needs an API key: set ANTHROPIC_API_KEY, or run with the scripted model');
  }
  const client = new Anthropic({
    apiKey: options.apiKey,
    ...(options.baseURL !== undefined ? { baseURL: options.baseURL } : {}),
    maxRetries: options.maxRetries,
    timeout: options.timeoutMs,
  });
  return {
    kind: 'anthropic',
    async createMessage(params, { signal, onHeaders }) {
      const stream = client.messages.stream(params, { signal });
      if (onHeaders) {
        // The response's headers arrive before its body: the rate-limit ones are read there.
        const { response } = await stream.withResponse();
        onHeaders(response.headers);
      }
      return stream.finalMessage();
    },
  };
}
