import { afterEach, describe, expect, it } from 'vitest';
import { createModelGate, type ModelGate, type ModelGateOptions, type ModelWait } from '../../src/limits/modelGate.ts';
import { WorkerAbortedError } from '../../src/workers/errors.ts';
import { client, freshDomain } from '../support/redis.ts';

// The shared limits against a real redis-server: several gates on one
// domain stand for several instances.

const conns: ReturnType<typeof client>[] = [];
const gates: ModelGate[] = [];
afterEach(async () => {
  await Promise.all(gates.splice(0).map((g) => g.close()));
  await Promise.all(conns.splice(0).map((c) => c.quit()));
});

function gateFor(keys: ReturnType<typeof freshDomain>['keys'], over: Partial<ModelGateOptions> = {}) {
  const redis = client();
  const subscriber = client();
  conns.push(redis, subscriber);
  return createModelGate({
    redis,
    subscriber,
    keys,
    maxCalls: undefined,
    tokensPerMinute: undefined,
    leaseTtlMs: 60_000,
    breakerThreshold: 2,
    breakerCooldownMs: 100,
    breakerMaxCooldownMs: 1000,
    ...over,
  }).then((g) => (gates.push(g), g));
}

const signal = () => new AbortController().signal;

describe('the model gate', () => {
  it('never grants more slots than maxCalls across instances, and hands a released slot to a waiter', async () => {
    const { keys } = freshDomain();
    const [a, b] = await Promise.all([gateFor(keys, { maxCalls: 2 }), gateFor(keys, { maxCalls: 2 })]);
    const first = await a.acquire(signal());
    const second = await b.acquire(signal());
    const waits: ModelWait[] = [];
    const third = b.acquire(signal(), (w) => waits.push(w));
    await expect.poll(() => waits.length).toBe(1);
    expect(waits[0]).toEqual({ reason: 'model_slot' });
    const redis = client();
    conns.push(redis);
    expect(await redis.zcard(keys.modelLeases)).toBe(2);
    await first.lease.release({ kind: 'ok', inputTokens: 1, outputTokens: 1 });
    const got = await third;
    expect(got.waited).toBe(true);
    expect(await redis.zcard(keys.modelLeases)).toBe(2);
    await second.lease.release({ kind: 'other' });
    await got.lease.release({ kind: 'other' });
    expect(await redis.zcard(keys.modelLeases)).toBe(0);
  });

  it("takes back a dead instance's slot when its lease expires", async () => {
    const { keys } = freshDomain();
    const redis = client();
    conns.push(redis);
    const [sec, micro] = await redis.time();
    // A lease its holder will never renew nor release (the process was killed).
    await redis.zadd(keys.modelLeases, Number(sec) * 1000 + Math.floor(Number(micro) / 1000) + 300, 'dead-instance-lease');
    const gate = await gateFor(keys, { maxCalls: 1 });
    const waits: ModelWait[] = [];
    const { lease, waited } = await gate.acquire(signal(), (w) => waits.push(w));
    expect(waited).toBe(true);
    expect(waits.map((w) => w.reason)).toEqual(['model_slot']);
    expect(await redis.zscore(keys.modelLeases, 'dead-instance-lease')).toBeNull();
    await lease.release({ kind: 'other' });
  });

  it('opens the breaker for every instance after repeated overload, honours retry-after, lets one probe through, closes on its success', async () => {
    const { keys } = freshDomain();
    const [a, b] = await Promise.all([gateFor(keys), gateFor(keys)]);
    const redis = client();
    conns.push(redis);
    const one = await a.acquire(signal());
    const two = await b.acquire(signal());
    await one.lease.release({ kind: 'overloaded', retryAfterMs: undefined });
    expect((await redis.hget(keys.modelBreaker, 'state')) ?? 'closed').toBe('closed');
    await two.lease.release({ kind: 'overloaded', retryAfterMs: 400 });
    expect(await redis.hget(keys.modelBreaker, 'state')).toBe('open');
    // retry-after (400 ms) wins over the cooldown (100 ms): open_until is at least 400 ms on.
    const [sec] = await redis.time();
    expect(Number(await redis.hget(keys.modelBreaker, 'open_until'))).toBeGreaterThan(Number(sec) * 1000 + 200);

    const waitsA: ModelWait[] = [];
    const waitsB: ModelWait[] = [];
    let firstDone: 'a' | 'b' | undefined;
    const pa = a.acquire(signal(), (w) => waitsA.push(w)).then((r) => ((firstDone ??= 'a'), r));
    const pb = b.acquire(signal(), (w) => waitsB.push(w)).then((r) => ((firstDone ??= 'b'), r));
    const probe = await Promise.race([pa, pb]);
    expect(probe.lease.probe).toBe(true);
    expect(waitsA[0]?.reason).toBe('breaker_open');
    expect(waitsA[0]?.unavailableSince).toBeGreaterThan(0);
    expect(await redis.hget(keys.modelBreaker, 'state')).toBe('half_open');
    // While the probe is out, nobody else gets through.
    const other = firstDone === 'a' ? pb : pa;
    expect((firstDone === 'a' ? waitsB : waitsA).map((w) => w.reason)).toContain('breaker_open');
    expect(await redis.zcard(keys.modelLeases)).toBe(1);
    await probe.lease.release({ kind: 'ok', inputTokens: 5, outputTokens: 5 });
    const next = await other;
    expect(next.lease.probe).toBe(false);
    expect(await redis.hget(keys.modelBreaker, 'state')).toBe('closed');
    expect(Number(await redis.hget(keys.modelBreaker, 'probes'))).toBe(1);
    await next.lease.release({ kind: 'ok', inputTokens: 1, outputTokens: 1 });
  });

  it('opens again when the probe fails, and a waiter gives up when its signal fires', async () => {
    const { keys } = freshDomain();
    const gate = await gateFor(keys, { breakerThreshold: 1 });
    const redis = client();
    conns.push(redis);
    const first = await gate.acquire(signal());
    await first.lease.release({ kind: 'overloaded', retryAfterMs: undefined });
    const probe = await gate.acquire(signal());
    expect(probe.lease.probe).toBe(true);
    await probe.lease.release({ kind: 'overloaded', retryAfterMs: undefined });
    expect(await redis.hget(keys.modelBreaker, 'state')).toBe('open');
    expect(Number(await redis.hget(keys.modelBreaker, 'reopens'))).toBe(1);
    const controller = new AbortController();
    const waiting = gate.acquire(controller.signal);
    controller.abort();
    await expect(waiting).rejects.toBeInstanceOf(WorkerAbortedError);
  });

  it('holds calls back once the tokens of the minute are used, input and output counted apart', async () => {
    const { keys } = freshDomain();
    const gate = await gateFor(keys, { tokensPerMinute: { input: 1000, output: 100 } });
    const a = await gate.acquire(signal());
    await a.lease.release({ kind: 'ok', inputTokens: 10, outputTokens: 150 });
    const redis = client();
    conns.push(redis);
    const fields = await redis.hgetall(keys.modelTokens);
    expect(Object.entries(fields).filter(([k]) => k.startsWith('out:')).map(([, v]) => Number(v))).toEqual([150]);
    const controller = new AbortController();
    const waits: ModelWait[] = [];
    const held = gate.acquire(controller.signal, (w) => waits.push(w));
    await expect.poll(() => waits.length).toBe(1);
    expect(waits[0]?.reason).toBe('tokens_per_minute');
    controller.abort();
    await expect(held).rejects.toBeInstanceOf(WorkerAbortedError);
  });
});

describe('the model gate wakes one waiting instance per freed slot', () => {
  // No wake-up by timer within a test's life: only the wake-up a release sends can hand a slot on.
  const noPoll = { maxCalls: 1, maxWaitPollMs: 600_000 };

  /** Counts the ACQUIRE scripts run on this domain (the only gate script with 4 keys) while `during` runs. */
  async function countAcquires(keys: ReturnType<typeof freshDomain>['keys'], during: () => Promise<void>): Promise<number> {
    const monitor = await client().monitor();
    let count = 0;
    monitor.on('monitor', (_time: string, args: string[]) => {
      if (args[0]?.toLowerCase() === 'evalsha' && args[2] === '4' && args[3] === keys.modelLeases) count++;
    });
    try {
      await during();
    } finally {
      monitor.disconnect();
    }
    return count;
  }

  it('hands slots to waiting instances in the order they queued, with about one acquire per grant instead of one per waiting instance', async () => {
    const { keys } = freshDomain();
    const holder = await gateFor(keys, noPoll);
    const first = await holder.acquire(signal());
    const instances = await Promise.all(Array.from({ length: 5 }, () => gateFor(keys, noPoll)));
    const grants: string[] = [];
    const pending: Promise<{ lease: { release(o: { kind: 'other' }): Promise<void> } }>[] = [];
    // Each instance queues two callers, one instance after the other.
    for (const [i, gate] of instances.entries()) {
      let told = 0;
      for (const n of [0, 1]) pending.push(gate.acquire(signal(), () => void told++).then((r) => (grants.push(`${i}.${n}`), r)));
      await expect.poll(() => told).toBe(2);
    }
    const redis = client();
    conns.push(redis);
    const acquires = await countAcquires(keys, async () => {
      await first.lease.release({ kind: 'other' });
      for (let k = 0; k < pending.length; k++) {
        await expect.poll(() => grants.length).toBe(k + 1);
        const at = grants[k]!;
        const [i, n] = at.split('.').map(Number) as [number, number];
        const got = await pending[i * 2 + n]!;
        expect(await redis.zcard(keys.modelLeases)).toBe(1);
        await got.lease.release({ kind: 'other' });
      }
    });
    // Round robin across instances (a served instance queues again at the back), FIFO within each.
    expect(grants).toEqual(['0.0', '1.0', '2.0', '3.0', '4.0', '0.1', '1.1', '2.1', '3.1', '4.1']);
    // Per grant: the woken instance's ACQUIRE, then (for its next caller) one that finds the slot taken.
    // Waking all five waiting instances on each release ran about five per grant.
    expect(acquires).toBeGreaterThanOrEqual(10);
    expect(acquires).toBeLessThanOrEqual(2 * 10);
  });

  it("skips a waiting instance that died, and passes on a wake-up that reaches an instance whose callers gave up", async () => {
    const { keys } = freshDomain();
    const holder = await gateFor(keys, noPoll);
    const first = await holder.acquire(signal());
    // Dies while waiting: its connections drop, it never closes its gate.
    const deadRedis = client();
    const deadSub = client();
    const dead = await createModelGate({ redis: deadRedis, subscriber: deadSub, keys, maxCalls: 1, maxWaitPollMs: 600_000, tokensPerMinute: undefined,
      leaseTtlMs: 60_000, breakerThreshold: 2, breakerCooldownMs: 100, breakerMaxCooldownMs: 1000 });
    const deadWaits: ModelWait[] = [];
    void dead.acquire(signal(), (w) => deadWaits.push(w)).catch(() => undefined);
    await expect.poll(() => deadWaits.length).toBe(1);
    const redis = client();
    conns.push(redis);
    const [deadId] = await redis.zrange(`${keys.modelLeases}:waiting`, '0', '0');
    expect(deadId).toMatch(/^[0-9a-f-]{36}$/);
    deadRedis.disconnect();
    deadSub.disconnect();
    // Until Redis has seen the connection go, a message to it would still count as delivered.
    await expect.poll(async () => Number(((await redis.pubsub('NUMSUB', `${keys.modelReleases}:${deadId}`)) as unknown[])[1])).toBe(0);
    // Gives up while waiting, its gate stays open and queued in Redis.
    const quitter = await gateFor(keys, noPoll);
    const controller = new AbortController();
    const quitWaits: ModelWait[] = [];
    const quitting = quitter.acquire(controller.signal, (w) => quitWaits.push(w));
    await expect.poll(() => quitWaits.length).toBe(1);
    controller.abort();
    await expect(quitting).rejects.toBeInstanceOf(WorkerAbortedError);
    const live = await gateFor(keys, noPoll);
    const liveWaits: ModelWait[] = [];
    const waiting = live.acquire(signal(), (w) => liveWaits.push(w));
    await expect.poll(() => liveWaits.length).toBe(1);
    expect(await redis.zcard(`${keys.modelLeases}:waiting`)).toBe(3);
    await first.lease.release({ kind: 'other' });
    // Only the wake-up can hand it the slot (no timer within the test's life): past the dead one and the quitter.
    const got = await waiting;
    expect(got.waited).toBe(true);
    expect(await redis.zcard(`${keys.modelLeases}:waiting`)).toBe(0);
    await got.lease.release({ kind: 'other' });
  });
});
