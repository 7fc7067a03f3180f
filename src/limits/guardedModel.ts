import { APIConnectionError, APIError } from '@anthropic-ai/sdk';
import { shouldRetry } from '../errors.ts';
import type { Message, ModelClient } from '../models/types.ts';
import { addUsage, ZERO_USAGE, type Usage } from '../protocol/output.ts';
import { WorkerAbortedError } from '../workers/errors.ts';
import type { ModelGate, ModelWait } from './modelGate.ts';
import { costOf, findPrice, UnknownModelPriceError, type PriceTable } from './prices.ts';
import { TaskBudgetExceededError } from './taskBudgetExceededError.ts';
import { usageOf } from '../models/usage.ts';
import { paceFromHeaders } from '../models/rateLimits.ts';

/** What every guarded call of an instance shares. */
export interface ModelGuard {
  /** The domain's limits and breaker; undefined: calls go straight to the model (the scripted stand-in without limits). */
  gate: ModelGate | undefined;
  prices: PriceTable;
  /** Retries of transient failures other than overload (5xx, 408, 409, connection), each through the gate again. */
  retries: number;
  /** First retry delay of those; doubles per retry, capped at 30 s (retry-after wins when the API sends one). */
  retryBaseMs: number;
}

/** What one run (one worker attempt, or the planner) adds. */
export interface RunGuard {
  /** The task's budget; checked before every call. */
  budget?: { limitUsd: number; spent(): Promise<number> };
  /** After each answered call: its cost (null: the model has no price), for the ledger and metrics. */
  onSpend?(modelId: string, usage: Usage, usd: number | null): void | Promise<void>;
  /** The call is held back (reason changed), and when it goes ahead again. */
  onWait?(wait: ModelWait): void;
  onResume?(): void;
}

export interface GuardedModel extends ModelClient {
  /** Usage and dollars of every answered call of this run so far; dollars null once a call of an unpriced model was made. */
  spent(): { usage: Usage; cost_usd: number | null };
}

type CallFailure = 'overloaded' | 'transient' | 'final';

/** Rate limits and overload (429, 529, and their error events inside a stream): the breaker's business. */
function isOverload(error: unknown): boolean {
  if (!(error instanceof APIError) || error instanceof APIConnectionError) return false;
  if (error.status === 429 || error.status === 529) return true;
  return error.status === undefined && (error.type === 'overloaded_error' || error.type === 'rate_limit_error');
}

/**
 * Whether to call again is `shouldRetry`'s answer; this only says how: an
 * overload waits as retry-after or the breaker says (for as long as the
 * run's signal lets it), anything else retryable counts against `retries`.
 */
function classify(error: unknown): CallFailure {
  if (!shouldRetry(error)) return 'final';
  return isOverload(error) ? 'overloaded' : 'transient';
}

/** retry-after-ms, else retry-after (seconds or an HTTP date), as the SDK reads them. */
export function retryAfterMs(error: unknown): number | undefined {
  if (!(error instanceof APIError)) return undefined;
  const headers = error.headers as { get?: (name: string) => string | null } | undefined;
  const ms = Number(headers?.get?.('retry-after-ms') ?? Number.NaN);
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const raw = headers?.get?.('retry-after');
  if (raw == null) return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new WorkerAbortedError(signal.reason));
    const onAbort = () => {
      clearTimeout(timer);
      reject(new WorkerAbortedError(signal.reason));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * A ModelClient that puts every call through the domain's gate and keeps
 * its books: before a call, the task's budget; then a slot (waiting, and
 * saying so, while the limits or the breaker hold it back); after it, the
 * lease back with the outcome for the breaker, and the cost.
 *
 * Overload (429/529) is never an error of the run: the call waits as
 * retry-after or the breaker says and goes again, as long as the run's
 * signal lets it (the task's deadline). Other transient failures are
 * retried `retries` times. With a gate, the SDK's own retries are off
 * (see the orchestrator), so every request the API sees went through the
 * gate and every 429/529 reaches the breaker. An answer whose rate-limit
 * headers say another call like it would not fit holds every call of the
 * domain until their reset (wait reason `rate_limit`), before any 429.
 *
 * @example
 * const model = guardModel(anthropic, { gate, prices: DEFAULT_PRICES, retries: 4, retryBaseMs: 500 },
 *   { budget: { limitUsd: 0.5, spent: () => ledger.spent(ref) }, onSpend: (id, usage, usd) => ledger.add(ref, usd) });
 */
export function guardModel(base: ModelClient, guard: ModelGuard, run: RunGuard = {}): GuardedModel {
  let usage = ZERO_USAGE;
  let cost: number | null = 0;
  let lastCallUsd = 0;
  return {
    kind: base.kind,
    spent: () => ({ usage, cost_usd: cost }),
    async createMessage(params, options) {
      const price = findPrice(params.model, guard.prices);
      // Start-up refuses a budget with an unpriced model; a task's own budget_usd can still meet one.
      if (run.budget && price === undefined) throw new UnknownModelPriceError(params.model, 'the task has a budget (metadata.budget_usd or --task-budget-usd)');
      if (run.budget) {
        const spent = await run.budget.spent();
        // "Would pass": the next call is taken to cost what this run's last one did (its history only grows).
        if (spent >= run.budget.limitUsd || spent + lastCallUsd > run.budget.limitUsd) {
          throw new TaskBudgetExceededError(run.budget.limitUsd, spent);
        }
      }
      const { signal } = options;
      let transient = 0;
      let overloads = 0;
      let waiting = false;
      const onWait = (wait: ModelWait) => {
        waiting = true;
        run.onWait?.(wait);
      };
      for (;;) {
        let lease;
        if (guard.gate) {
          const got = await guard.gate.acquire(signal, onWait);
          lease = got.lease;
        }
        if (waiting) {
          waiting = false;
          run.onResume?.();
        }
        let answer: Message;
        let headers: Headers | undefined;
        try {
          answer = await base.createMessage(params, guard.gate ? { ...options, onHeaders: (h) => (headers = h) } : options);
        } catch (error) {
          const failure = guard.gate ? classify(error) : 'final';
          const after = retryAfterMs(error);
          await lease?.release(failure === 'overloaded' ? { kind: 'overloaded', retryAfterMs: after } : { kind: 'other' });
          if (failure === 'final' || signal.aborted) throw error;
          if (failure === 'transient' && ++transient > guard.retries) throw error;
          const backoff = Math.min(guard.retryBaseMs * 2 ** ((failure === 'overloaded' ? ++overloads : transient) - 1), 30_000);
          if (failure === 'overloaded') onWait({ reason: 'retry_after' });
          await pause(after ?? backoff, signal);
          continue;
        }
        const used = usageOf(answer);
        // Anthropic's input limit counts uncached input and cache writes; cache reads do not count.
        const size = { inputTokens: used.input_tokens + used.cache_creation_input_tokens, outputTokens: used.output_tokens };
        const paceMs = headers === undefined ? undefined : paceFromHeaders(headers, size);
        await lease?.release({ kind: 'ok', ...size, ...(paceMs !== undefined ? { paceMs } : {}) });
        const usd = price === undefined ? null : costOf(used, price);
        usage = addUsage(usage, used);
        cost = cost === null || usd === null ? null : cost + usd;
        lastCallUsd = usd ?? 0;
        await run.onSpend?.(params.model, used, usd);
        return answer;
      }
    },
  };
}
