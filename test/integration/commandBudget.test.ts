import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTaskMessage, sendTask } from '../../src/client/send.ts';
import { startLocalRedis, type LocalRedis } from '../../src/redis/localServer.ts';
import { parsePrompts } from '../../src/redis/prompts.ts';
import { startTestOrchestrator } from '../support/orchestrator.ts';
import { client, eventually } from '../support/redis.ts';

// A Redis of its own: commandstats counts every client, and the other test files share the suite's.
let redis: LocalRedis;
beforeAll(async () => {
  redis = await startLocalRedis();
});
afterAll(async () => {
  await redis?.stop();
});

async function commandStats(r: ReturnType<typeof client>): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const m of (await r.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

describe('Redis commands per task', () => {
  it('a three-worker task costs at most 32 commands (inside Lua included), with its progress, checkpoints and prompts all there', async () => {
    // Heartbeats, recovery scans and idle claim waits are per instance, not per task: kept out of the count.
    const t = await startTestOrchestrator({
      redisUrl: redis.url,
      concurrency: 1,
      heartbeatIntervalMs: 60_000,
      recoveryIntervalMs: 60_000,
      claimTimeoutSeconds: 5,
      progressFlushMs: 60_000,
    });
    const r = client(redis.url);
    const sub = client(redis.url);
    try {
      const n = 5;
      const messages = Array.from({ length: n }, () => buildTaskMessage({ description: 'Create a REST API for blog posts with authentication' }, t.config.domain));
      const finished = new Set<string>();
      sub.on('pmessage', (_p: string, channel: string, text: string) => {
        if (text.startsWith('{"status":"completed"')) finished.add(channel.slice('results:'.length));
      });
      await sub.psubscribe('results:*');
      // Registered, first claim waiting: its BLMOVE blocks on this Redis of its own.
      await eventually(async () => (/^blocked_clients:[1-9]/m.test(await r.info('clients')) ? true : undefined), 10_000, 'the first claim to wait');
      await r.config('RESETSTAT');
      for (const m of messages) await sendTask(r, t.keys, m); // as the peers do: the task, then the producer's record
      await eventually(async () => (finished.size === n ? true : undefined), 20_000, 'the results');
      const stats = await commandStats(r);
      // sendTask's MULTI, LPUSH, HSET, PUBLISH, EXEC per task; this test's INFO; the listener's claim now waiting.
      const producer: Record<string, number> = { multi: n, lpush: n, hset: n, publish: n, exec: n };
      const counted = Object.entries(stats).filter(([cmd]) => !/^(config|info)\b/.test(cmd));
      const perTask = Object.fromEntries(counted.map(([cmd, calls]) => [cmd, (calls - (producer[cmd] ?? 0)) / n]));
      const total = Object.values(perTask).reduce((sum, v) => sum + v, 0);
      expect(perTask.hexists ?? 0).toBe(0); // the claim saw the producer's record: the publication does not look again
      expect(perTask.hdel ?? 0).toBe(0); // nor clears an error field that cannot be there
      expect(perTask.eval).toBeLessThanOrEqual(6);
      // 24, and 3 inside the publication's Lua step for the console's tasks index (ZADD, HSET, ZCARD): no round trip of its own;
      // and since the stand-in looks and reads before it writes (more turns a worker), one more progress flush a task
      // (RPUSH, HSET, HMGET and the fenced save's EVALSHA): measured 28 before the index, 30 to 31 with it (a flush more or less, with timing).
      expect(total, JSON.stringify(perTask)).toBeLessThanOrEqual(32);
      for (const m of messages) {
        const logs = await r.lrange(t.keys.resultLogs(m.task_id), 0, -1);
        expect(logs[0]).toMatch(/claimed by /);
        expect(logs.some((l) => /plan \(keywords\): db-worker/.test(l))).toBe(true);
        for (const w of ['db-worker', 'api-worker', 'auth-worker']) {
          expect(logs.some((l) => l.endsWith(`${w} started`))).toBe(true);
          expect(logs.some((l) => l.includes(`${w} succeeded`))).toBe(true);
        }
        expect(logs.at(-1)).toMatch(/result published: completed$/);
        expect(Object.keys(parsePrompts(await r.hgetall(t.keys.prompts(m.task_id)))).sort()).toEqual(['api-worker', 'auth-worker', 'db-worker']);
        expect(await r.exists(t.keys.checkpoint(m.task_id))).toBe(0);
      }
    } finally {
      await t.orchestrator.stop();
      r.disconnect();
      sub.disconnect();
    }
  }, 60_000);
});
