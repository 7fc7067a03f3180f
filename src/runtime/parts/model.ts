import type { Redis } from 'ioredis';
import { scriptedLatency, type Config } from '../../config.ts';
import type { Logger } from '../../logger.ts';
import type { ModelGuard } from '../../limits/guardedModel.ts';
import { createModelGate, type ModelGate } from '../../limits/modelGate.ts';
import type { PriceTable } from '../../limits/prices.ts';
import { createAnthropicModel } from '../../models/anthropic.ts';
import { createScriptedModel } from '../../models/scripted.ts';
import type { ModelClient } from '../../models/types.ts';
import type { Metrics } from '../../observability/metrics.ts';
import { TaskTraces, traceModel } from '../../observability/tracing.ts';
import type { Keys } from '../../protocol/keys.ts';
import type { ResourceStack } from '../resources.ts';
import type { Connections } from './redis.ts';

/** What a caller may put in place of the model from the config (ModelOptions). */
export interface ModelOptions {
  /** Replaces the model built from the config (benchmarks, tests). */
  model?: ModelClient;
  /** Called for each invocation of the model per caller (the crash suite counts them). */
  onModelCall?: (caller: string) => void;
}

/** The real API goes through the shared gate always; the scripted stand-in only when limits are asked for. */
const gated = (config: Config, options: ModelOptions): boolean =>
  (config.model === 'anthropic' && !options.model) || config.maxModelCalls !== undefined || config.tokensPerMinute !== undefined;

function clientOf(config: Config, options: ModelOptions): ModelClient {
  if (options.model) return options.model;
  if (config.model === 'anthropic') {
    return createAnthropicModel({
      apiKey: config.anthropic.apiKey!,
      ...(config.anthropic.baseURL ? { baseURL: config.anthropic.baseURL } : {}),
      // The gate retries, each retry through a slot, and every 429/529 reaches the shared breaker.
      maxRetries: 0,
      timeoutMs: config.anthropic.requestTimeoutMs,
    });
  }
  return createScriptedModel({
    latencyMs: (caller) => scriptedLatency(config, caller),
    fail: new Set(config.scripted.fail),
    bug: config.scripted.bug,
    ...(options.onModelCall ? { onCall: options.onModelCall } : {}),
  });
}

/** The model from the config (or the one given), traced; the tasks' open spans end with the listener. */
export function buildModel(config: Config, options: ModelOptions, stack: ResourceStack): { model: ModelClient; traces: TaskTraces } {
  const model = traceModel(clientOf(config, options));
  const traces = new TaskTraces();
  stack.add({ name: 'task traces', close: () => traces.endAll(), drop: () => traces.endAll() });
  return { model, traces };
}

/**
 * What every call of the model goes through: the shared gate (slots, tokens
 * per minute, the circuit breaker) when one is needed, the prices, the retries.
 */
export async function openModelGate(
  config: Config,
  options: ModelOptions,
  deps: { connections: Connections; redis: Redis; keys: Keys; prices: PriceTable; metrics: Metrics | undefined; logger: Logger },
  stack: ResourceStack,
): Promise<ModelGuard> {
  const { logger, metrics } = deps;
  let gate: ModelGate | undefined;
  if (gated(config, options)) {
    const subscriber = deps.connections.open('model-gate');
    const opened = await createModelGate({
      redis: deps.redis,
      subscriber,
      keys: deps.keys,
      maxCalls: config.maxModelCalls,
      tokensPerMinute: config.tokensPerMinute,
      leaseTtlMs: config.modelLeaseTtlMs,
      breakerThreshold: config.breakerThreshold,
      breakerCooldownMs: config.breakerCooldownMs,
      breakerMaxCooldownMs: config.breakerMaxCooldownMs,
      onBreaker: (state) => {
        logger[state === 'closed' ? 'info' : 'warn']({ breaker: state }, `model API circuit breaker ${state.replace('_', '-')}`);
        metrics?.breaker(state);
      },
      onError: (err) => logger.warn({ err }, 'model gate: Redis did not answer'),
    });
    // Dropped with its subscriber: leaving the line needs Redis, and its place there expires.
    stack.add({ name: 'model gate', close: () => opened.close() });
    gate = opened;
  }
  return { gate, prices: deps.prices, retries: config.anthropic.maxRetries, retryBaseMs: 500 };
}
