import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { makeTask } from '../support/fixtures.ts';
import { startTestOrchestrator } from '../support/orchestrator.ts';
import { client, eventually } from '../support/redis.ts';

// Thousands of malformed and hostile messages mixed with valid ones. Each is
// labelled good or bad by construction, not by asking the parser.

function rng(seed: number) {
  return () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
}

const valid = (id: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    ...makeTask('Create user registration endpoint', { taskId: id, requirements: ['POST /api/users/register'], timeoutSeconds: 60 }),
    source: 'fuzz',
    timestamp: new Date().toISOString(),
    ...extra,
  });

// A queue carries bytes: some messages are not UTF-8 at all.
type Case = { raw: string | Buffer; good: boolean; id: string | undefined };

function randomBytes(random: () => number): Buffer {
  const bytes = Buffer.alloc(1 + Math.floor(random() * 64));
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256);
  return bytes;
}

function hostile(random: () => number, i: number): Case {
  const id = `fuzz-${i}-${randomUUID()}`;
  const pick = Math.floor(random() * 16);
  switch (pick) {
    case 0: return { raw: '', good: false, id: undefined };
    case 1: return { raw: '{', good: false, id: undefined };
    case 2: return { raw: 'null', good: false, id: undefined };
    case 3: return { raw: '[1,2,3]', good: false, id: undefined };
    case 4: return { raw: JSON.stringify({ task_id: id }), good: false, id };
    case 5: return { raw: JSON.stringify({ task_id: 42, payload: { description: 'x' } }), good: false, id: undefined };
    case 6: return { raw: JSON.stringify({ task_id: id, payload: { description: 123 } }), good: false, id };
    case 7: return { raw: JSON.stringify({ task_id: id, payload: { description: '   ' } }), good: false, id };
    case 8: return { raw: JSON.stringify({ task_id: id, payload: { description: 'x'.repeat(200_000) } }), good: false, id };
    case 9: return { raw: `{"task_id": "${id}", "payload": {"description": "say "hi" to the API"}}`, good: false, id };
    case 10: return { raw: JSON.stringify({ task_id: id, payload: { description: 'Create login endpoint', requirements: 'not a list' } }), good: false, id };
    case 11: return { raw: JSON.stringify({ task_id: id, payload: { description: 'Add an index' }, metadata: { timeout_seconds: -5 } }), good: false, id };
    case 12: return { raw: '\u0000\uffff'.repeat(1000), good: false, id: undefined };
    case 13: return { raw: randomBytes(random), good: false, id: undefined };
    case 14: return { raw: Buffer.from([0x00, 0xff, 0xfe, 0x80, 0xc3, 0x28, 0xa0, 0xa1, 0xed, 0xa0]), good: false, id: undefined };
    case 15: return { raw: Buffer.concat([Buffer.from(`{"task_id": "${id}", "payload": {"description": "`), randomBytes(random), Buffer.from([0xff])]), good: false, id };
    default: return { raw: JSON.stringify({ task_id: 'x'.repeat(5000), payload: { description: 'Create a users table' } }), good: false, id: undefined };
  }
}

describe('fuzz', () => {
  it('never stops on hostile input: every valid task completes, every bad message is dead-lettered', async () => {
    const random = rng(20261123);
    const cases: Case[] = [];
    for (let i = 0; i < 3000; i++) {
      if (i % 12 === 0) {
        const id = randomUUID();
        const extra = i % 24 === 0 ? { unknown_field: { nested: [1, 2] }, another: 'tolerated' } : {};
        cases.push({ raw: valid(id, extra), good: true, id });
      } else {
        cases.push(hostile(random, i));
      }
    }
    const { orchestrator, keys } = await startTestOrchestrator({
      concurrency: 32,
      resultGraceMs: 0,
      deadLetterLimit: 100_000,
    });
    const redis = client();
    try {
      for (let i = 0; i < cases.length; i += 200) {
        await redis.lpush(keys.pending, ...cases.slice(i, i + 200).map((c) => c.raw));
      }
      const good = cases.filter((c) => c.good);
      const bad = cases.filter((c) => !c.good);
      // Waits for every outcome, not for an empty active list: a message stuck there must fail the test below, not time it out.
      await eventually(
        async () => ((await redis.llen(keys.pending)) === 0 && (await redis.llen(keys.deadLetters)) >= bad.length ? true : undefined),
        120_000,
        'every bad message to be dead-lettered',
      );
      await eventually(
        async () => ((await Promise.all(good.map((c) => redis.hget(`results:${c.id}`, 'status')))).every((s) => s === 'completed') ? true : undefined),
        60_000,
        'every valid task to complete',
      );
      expect(await redis.lrange(keys.active, 0, -1)).toEqual([]);
      expect(await redis.keys(`${keys.own}task:*`)).toEqual([]);
      const goodStatuses = await Promise.all(good.map((c) => redis.hget(`results:${c.id}`, 'status')));
      expect(goodStatuses.filter((s) => s !== 'completed')).toEqual([]);
      expect(await redis.llen(keys.deadLetters)).toBe(bad.length);
      const withId = bad.filter((c) => c.id !== undefined);
      const badStatuses = await Promise.all(withId.map((c) => redis.hget(`results:${c.id}`, 'status')));
      expect(badStatuses.filter((s) => s !== 'failed')).toEqual([]);
      expect(orchestrator.actor.getSnapshot().value).not.toBe('stopped');
      expect(orchestrator.actor.getSnapshot().status).toBe('active');
    } finally {
      await orchestrator.stop();
      await redis.quit();
    }
  }, 180_000);
});
