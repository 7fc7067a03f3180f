import { afterEach, describe, expect, it } from 'vitest';
import { buildTaskMessage, sendTask } from '../../src/client/send.ts';
import { startLocalRedis, type LocalRedis } from '../../src/redis/localServer.ts';
import { startTestOrchestrator } from '../support/orchestrator.ts';
import { client, eventually } from '../support/redis.ts';

let redisServer: LocalRedis | undefined;
afterEach(async () => {
  await redisServer?.stop();
});

describe('Redis outage', () => {
  it('reconnects after Redis is killed and restarted mid-run; every task ends with one result', async () => {
    // Its own server with an fsync-always append-only file: the outage must not be data loss too.
    redisServer = await startLocalRedis({ persistent: true });
    const { orchestrator, keys, config } = await startTestOrchestrator({
      redisUrl: redisServer.url,
      concurrency: 4,
      scripted: { latencyMs: { 'db-worker': 300, 'api-worker': 300, 'auth-worker': 300 } },
    });
    const redis = client(redisServer.url);
    redis.on('error', () => undefined);
    const ids: string[] = [];
    try {
      for (let i = 0; i < 6; i++) {
        const m = buildTaskMessage({ description: 'Create user registration endpoint' }, config.domain);
        await sendTask(redis, keys, m);
        ids.push(m.task_id);
      }
      await eventually(async () => ((await redis.llen(keys.active)) > 0 ? true : undefined));
      await redisServer.kill();
      await new Promise((r) => setTimeout(r, 800));
      await redisServer.restart();
      const statuses = await eventually(async () => {
        const s = await Promise.all(ids.map((id) => redis.hget(`results:${id}`, 'status')));
        return s.every((x) => x === 'completed') ? s : undefined;
      }, 30_000, 'every task completed after the restart');
      expect(statuses).toHaveLength(6);
      expect(await redis.llen(keys.active)).toBe(0);
      expect(await redis.llen(keys.pending)).toBe(0);
      // Published once: the progress log has a single "result published" line per task.
      for (const id of ids) {
        const logs = await redis.lrange(`results:${id}:logs`, 0, -1);
        expect(logs.filter((l) => l.includes('result published')), id).toHaveLength(1);
      }
      expect(orchestrator.actor.getSnapshot().status).toBe('active');
    } finally {
      await orchestrator.stop();
      redis.disconnect();
    }
  }, 60_000);
});
