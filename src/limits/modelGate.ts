import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Keys } from '../protocol/keys.ts';
import { WorkerAbortedError } from '../workers/errors.ts';
import { luaFile } from '../redis/script.ts';

/**
 * Why a model call is held back: the domain's in-flight limit, its tokens
 * per minute, its open circuit breaker, a 429's retry-after, or the API's
 * rate-limit headers (`rate_limit`: a call like the last would not fit in
 * what they said remains, until their reset).
 */
export type WaitReason = 'model_slot' | 'tokens_per_minute' | 'breaker_open' | 'retry_after' | 'rate_limit';

export interface ModelWait {
  reason: WaitReason;
  /** Epoch ms since which the API has been refusing (the breaker's spell), when the reason is the breaker. */
  unavailableSince?: number;
}

/** How a call ended, for the breaker: `overloaded` is a 429, a 529 or an overloaded/rate-limit error event. */
export type CallOutcome =
  | { kind: 'ok'; inputTokens: number; outputTokens: number; /** Hold every call of the domain this long (the rate-limit headers). */ paceMs?: number }
  | { kind: 'overloaded'; retryAfterMs: number | undefined }
  | { kind: 'other' };

export type BreakerState = 'closed' | 'open' | 'half_open';

export interface ModelLease {
  readonly id: string;
  /** This call is the breaker's single half-open probe. */
  readonly probe: boolean;
  /** Gives the slot back and tells the breaker how the call went. Safe to call twice. */
  release(outcome: CallOutcome): Promise<void>;
}

export interface ModelGateOptions {
  redis: Redis;
  /** A connection of its own for the release channel (a subscribed connection can do nothing else). */
  subscriber: Redis;
  keys: Keys;
  /** Requests in flight at once over the whole domain; undefined: no limit. */
  maxCalls: number | undefined;
  /** Tokens per minute over the whole domain, input and output counted separately; undefined: no limit. */
  tokensPerMinute: { input: number; output: number } | undefined;
  /** A lease not renewed for this long is taken back (its holder died). Renewed every third of it. */
  leaseTtlMs: number;
  /**
   * Longest a waiter sleeps before asking again when no wake-up reaches it
   * (one lost with a dropped subscription, or sent by an instance of an
   * older version). Default 1000.
   */
  maxWaitPollMs?: number;
  /** Overload errors in a row, across the domain, that open the breaker. */
  breakerThreshold: number;
  /** How long the breaker stays open when the API gave no retry-after; doubles with each failed probe. */
  breakerCooldownMs: number;
  breakerMaxCooldownMs: number;
  /** Told when this instance sees the breaker change state (metrics, logs). */
  onBreaker?: (state: BreakerState) => void;
  /** Told when a lease could not be renewed or released (Redis down): the call goes on regardless. */
  onError?: (error: unknown) => void;
}

export interface ModelGate {
  /**
   * Waits for a slot (and for the breaker to let calls through), telling
   * `onWait` each time the reason for waiting changes. Rejects with
   * WorkerAbortedError when the signal fires.
   */
  acquire(signal: AbortSignal, onWait?: (wait: ModelWait) => void): Promise<{ lease: ModelLease; waited: boolean }>;
  close(): Promise<void>;
}

const sleep = (ms: number, signal: AbortSignal, wake: Set<() => void>): Promise<void> =>
  new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      wake.delete(done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    wake.add(done);
  });

// EVALSHA (src/redis/script.ts): every waiter of every instance asks again on each release,
// and sending the script text each time cost more CPU than the rest.
// The scripts, with their KEYS and ARGV: src/redis/lua/gate*.lua.
const GATE = { acquire: luaFile('gateAcquire'), release: luaFile('gateRelease'), renew: luaFile('gateRenew'), pass: luaFile('gatePass') };

interface Waiter {
  signal: AbortSignal;
  onWait: ((wait: ModelWait) => void) | undefined;
  told: WaitReason | undefined;
  resolve(value: { lease: ModelLease; waited: boolean }): void;
  reject(error: unknown): void;
}

/**
 * The domain's shared limits on model calls, kept in Redis so that every
 * instance obeys the same ones: a semaphore of leases with a TTL (a crashed
 * instance's slots come back by themselves), tokens per minute, and a
 * circuit breaker (closed → open after `breakerThreshold` overload errors in
 * a row → half-open after its cooldown or the API's retry-after → one probe
 * → closed on success, open again on failure).
 *
 * Inside an instance, callers queue in order and only the first one asks
 * Redis. Instances that found no slot queue in Redis, oldest first, and a
 * freed slot wakes only the first of them (a message on its own channel):
 * waking every instance on each release made them all ask for the one slot
 * (8.7 gate scripts per request in the bench, against about 3 now). A
 * change of the breaker's state wakes them all (the shared channel), and
 * the time the answer named (at most `maxWaitPollMs`) makes a waiter ask
 * again should a wake-up be lost.
 *
 * @example
 * const gate = createModelGate({ redis, subscriber, keys, maxCalls: 20, tokensPerMinute: undefined, leaseTtlMs: 60_000,
 *   breakerThreshold: 3, breakerCooldownMs: 10_000, breakerMaxCooldownMs: 120_000 });
 * const { lease } = await gate.acquire(signal, (wait) => log(wait.reason));
 * try { answer = await call(); await lease.release({ kind: 'ok', inputTokens, outputTokens }); } catch { await lease.release({ kind: 'other' }); }
 */
export async function createModelGate(options: ModelGateOptions): Promise<ModelGate> {
  const { redis, keys } = options;
  const gateId = randomUUID();
  // The scripts wake an instance on `wakePrefix .. gate id` (keys.modelWake), so they get the prefix.
  const wakePrefix = keys.modelWakePrefix;
  const ownChannel = keys.modelWake(gateId);
  const waitersKey = keys.modelWaiting;
  const maxWaitPollMs = options.maxWaitPollMs ?? 1000;
  const queue: Waiter[] = [];
  const wake = new Set<() => void>();
  // Counts releases seen: one that lands while the pump's ACQUIRE is on its way must not be slept through.
  let releases = 0;
  const wakeAll = () => {
    releases++;
    [...wake].forEach((f) => f());
  };
  let pumping = false;
  let closed = false;
  let lastState: BreakerState | undefined;
  const seen = (state: BreakerState) => {
    if (state !== lastState) {
      lastState = state;
      options.onBreaker?.(state);
    }
  };

  options.subscriber.on('message', (channel: string) => {
    if (channel === keys.modelReleases) wakeAll();
    else if (channel === ownChannel) {
      if (pumping) wakeAll();
      // Nobody here wants the slot any more: the next instance in line gets the word.
      else GATE.pass.run(redis, 1, waitersKey, gateId, wakePrefix).catch((error: unknown) => options.onError?.(error));
    }
  });
  await options.subscriber.subscribe(keys.modelReleases, ownChannel);

  const keysOf = [keys.modelLeases, keys.modelBreaker, keys.modelTokens, keys.modelReleases, waitersKey];
  const makeLease = (id: string, probe: boolean): ModelLease => {
    const renew = setInterval(() => {
      GATE.renew.run(redis, 1, keys.modelLeases, id, options.leaseTtlMs).catch((error: unknown) => options.onError?.(error));
    }, Math.max(50, Math.floor(options.leaseTtlMs / 3)));
    renew.unref();
    let released: Promise<void> | undefined;
    return {
      id,
      probe,
      release(outcome) {
        released ??= (async () => {
          clearInterval(renew);
          const retryAfter = outcome.kind === 'overloaded' && outcome.retryAfterMs !== undefined ? Math.max(0, Math.round(outcome.retryAfterMs)) : -1;
          const tokens = outcome.kind === 'ok' ? [outcome.inputTokens, outcome.outputTokens] : [0, 0];
          const pace = outcome.kind === 'ok' && outcome.paceMs !== undefined ? Math.max(0, Math.round(outcome.paceMs)) : -1;
          try {
            const state = (await GATE.release.run(redis, 5, ...keysOf, id, outcome.kind, retryAfter, options.breakerThreshold,
              options.breakerCooldownMs, options.breakerMaxCooldownMs, ...tokens, wakePrefix, pace)) as BreakerState;
            seen(state);
          } catch (error) {
            // The lease expires by itself; the breaker misses one outcome.
            options.onError?.(error);
            wakeAll();
          }
          // Otherwise no local wake-up: the script woke the instance first in line, maybe this one.
        })();
        return released;
      },
    };
  };

  const pump = async (): Promise<void> => {
    if (pumping) return;
    pumping = true;
    try {
      while (queue.length > 0 && !closed) {
        const head = queue[0]!;
        if (head.signal.aborted) {
          queue.shift();
          head.reject(new WorkerAbortedError(head.signal.reason));
          continue;
        }
        const id = randomUUID();
        const seenReleases = releases;
        let reply: [string, number, number];
        try {
          reply = (await GATE.acquire.run(redis, 4, keys.modelLeases, keys.modelBreaker, keys.modelTokens, waitersKey, id, options.leaseTtlMs,
            options.maxCalls ?? 0, options.tokensPerMinute?.input ?? 0, options.tokensPerMinute?.output ?? 0,
            gateId, wakePrefix, maxWaitPollMs)) as [string, number, number];
        } catch (error) {
          // Redis unreachable: no slot can be granted; try again shortly (ioredis reconnects).
          options.onError?.(error);
          await sleep(500, head.signal, wake);
          continue;
        }
        const [verdict, n, since] = reply;
        if (verdict === 'ok') {
          queue.shift();
          if (lastState !== 'closed' && n !== 1) seen('closed');
          head.resolve({ lease: makeLease(id, n === 1), waited: head.told !== undefined });
          continue;
        }
        const reason = verdict as WaitReason;
        if (reason === 'breaker_open') seen('open');
        for (const w of queue) {
          if (w.told === reason) continue;
          w.told = reason;
          w.onWait?.(reason === 'breaker_open' && since > 0 ? { reason, unavailableSince: since } : { reason });
        }
        if (releases !== seenReleases && reason !== 'breaker_open') continue;
        // A little jitter, so instances woken by the same message do not ask in lockstep.
        await sleep(Math.max(1, n) + Math.random() * 25, head.signal, wake);
      }
    } finally {
      pumping = false;
    }
  };

  return {
    acquire(signal, onWait) {
      if (signal.aborted) return Promise.reject(new WorkerAbortedError(signal.reason));
      return new Promise((resolve, reject) => {
        const waiter: Waiter = { signal, onWait, told: undefined, resolve, reject };
        queue.push(waiter);
        // A waiter behind others is already waiting: say so with the head's reason.
        const head = queue[0]!;
        if (head !== waiter && head.told !== undefined) {
          waiter.told = head.told;
          onWait?.({ reason: head.told });
        }
        signal.addEventListener(
          'abort',
          () => {
            const i = queue.indexOf(waiter);
            if (i > 0) {
              queue.splice(i, 1);
              reject(new WorkerAbortedError(signal.reason));
            }
            // The head is dropped by the pump, which its own sleep wakes.
          },
          { once: true },
        );
        void pump();
      });
    },
    async close() {
      closed = true;
      wakeAll();
      for (const w of queue.splice(0)) w.reject(new WorkerAbortedError('the model gate closed'));
      await options.subscriber.unsubscribe(keys.modelReleases, ownChannel).catch(() => undefined);
      // Out of the line, and a wake-up that was on its way to this instance goes to the next one.
      await GATE.pass.run(redis, 1, waitersKey, gateId, wakePrefix).catch(() => undefined);
    },
  };
}
