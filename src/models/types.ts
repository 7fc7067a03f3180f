import type Anthropic from '@anthropic-ai/sdk';

export type MessageParams = Anthropic.Messages.MessageCreateParamsNonStreaming;
export type Message = Anthropic.Messages.Message;

/**
 * The model boundary. Workers and the planner speak the Messages API shape to
 * whatever sits behind it: the real Anthropic SDK (`anthropic`) or the
 * deterministic offline stand-in (`scripted`). The signal is the calling
 * actor's: stopping the actor aborts the request.
 */
export interface ModelClient {
  readonly kind: 'anthropic' | 'scripted';
  createMessage(params: MessageParams, options: ModelCallOptions): Promise<Message>;
}

export interface ModelCallOptions {
  signal: AbortSignal;
  /** Which worker (or `planner`) is calling; the scripted model keys its behaviour on it. */
  caller: string;
  /** The answer's HTTP headers, before its message is returned (the rate-limit headers: src/models/rateLimits.ts). */
  onHeaders?: (headers: Headers) => void;
}
