import { describe, expect, it } from 'vitest';
import { buildTaskMessage, sendTask } from '../../src/client/send.ts';
import { startTestOrchestrator } from '../support/orchestrator.ts';
import { client, eventually } from '../support/redis.ts';

const value = (text: string, series: string): number => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? Number.NaN : Number(line.slice(series.length + 1));
};

describe('/metrics and /healthz of a running listener', () => {
  it('counts tasks by outcome, worker runs, retries and tokens after a few tasks', async () => {
    const { orchestrator, keys, config } = await startTestOrchestrator({ metricsPort: 0, scripted: { fail: ['auth-worker'] }, workerAttempts: 2 });
    const redis = client();
    try {
      const url = orchestrator.http!.url;
      const ids: string[] = [];
      for (const description of ['Add an index to the orders table', 'Create a users table', 'Create user registration endpoint']) {
        const m = buildTaskMessage({ description }, config.domain);
        await sendTask(redis, keys, m);
        ids.push(m.task_id);
      }
      await eventually(async () => {
        const s = await Promise.all(ids.map((id) => redis.hget(`results:${id}`, 'status')));
        return s.every((x) => x === 'completed' || x === 'failed') ? true : undefined;
      });
      const text = await eventually(async () => {
        const t = await (await fetch(`${url}/metrics`)).text();
        return value(t, 'orchestrator_tasks_total{outcome="partial"}') === 1 ? t : undefined;
      }, 5000, 'the partial task to be counted');
      expect(value(text, 'orchestrator_tasks_total{outcome="completed"}')).toBe(2);
      expect(value(text, 'orchestrator_worker_retries_total{worker="auth-worker"}')).toBe(1);
      expect(value(text, 'orchestrator_worker_duration_seconds_count{worker="db-worker",status="succeeded"}')).toBe(3);
      expect(value(text, 'orchestrator_worker_duration_seconds_count{worker="auth-worker",status="failed"}')).toBe(1);
      expect(value(text, 'orchestrator_tokens_total{worker="db-worker",kind="input"}')).toBeGreaterThan(0);
      expect(value(text, 'orchestrator_task_duration_seconds_count{outcome="completed"}')).toBe(2);
      expect(value(text, 'orchestrator_tasks_in_flight')).toBe(0);
      expect(value(text, 'orchestrator_queue_depth{queue="pending"}')).toBe(0);
      const health = await fetch(`${url}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ redis: true });
    } finally {
      await orchestrator.stop();
      await redis.quit();
    }
  });
});
