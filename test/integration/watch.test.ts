import { describe, expect, it } from 'vitest';
import { buildTaskMessage, sendTask } from '../../src/client/send.ts';
import { readOverview } from '../../src/client/overview.ts';
import { renderOverview } from '../../src/cli/render.ts';
import { runCli } from '../support/cli.ts';
import { startTestOrchestrator } from '../support/orchestrator.ts';
import { client, eventually, redisUrl } from '../support/redis.ts';

describe('watch', () => {
  it('renders a known task in a known state into a fixed-size screen, across instances', async () => {
    const slow = { 'db-worker': 50, 'api-worker': 20_000, 'auth-worker': 20_000 };
    const a = await startTestOrchestrator({ scripted: { latencyMs: slow } });
    const b = await startTestOrchestrator({ domain: a.config.domain, agentId: `${a.config.domain}-b`, scripted: { latencyMs: slow } });
    const redis = client();
    try {
      const m = buildTaskMessage({ description: 'Create user registration endpoint' }, a.config.domain);
      await sendTask(redis, a.keys, m);
      const overview = await eventually(async () => {
        const o = await readOverview(redis, a.keys, a.config.domain);
        const t = o.tasks[0];
        return t?.workers.some((w) => w.worker === 'api-worker' && w.state === 'running') ? o : undefined;
      }, 10_000, 'api-worker running');
      const screen = renderOverview(overview, 80, 24);
      expect(screen.length).toBeLessThanOrEqual(24);
      for (const line of screen) expect(line.length).toBeLessThanOrEqual(80);
      const text = screen.join('\n');
      expect(text).toContain('instances: 2 alive of 2');
      expect(text).toContain(`${a.config.domain}-a`);
      expect(text).toContain(`${a.config.domain}-b`);
      expect(text).toMatch(new RegExp(`${m.task_id.slice(0, 8)} dispatching`));
      expect(text).toContain('✓ db succeeded');
      expect(text).toMatch(/▶ api running \d+\.\ds/);
      expect(text).toMatch(/▶ auth running/);

      // The command itself, once, as a person would run it.
      const run = await runCli(['watch', '--once', '--redis', redisUrl(), '--domain', a.config.domain]);
      expect(run.status).toBe(0);
      expect(run.stdout).toContain('dispatching');
    } finally {
      await Promise.all([a.orchestrator.stop(), b.orchestrator.stop()]);
      await redis.quit();
    }
  }, 30_000);

  it('lists recent failures', async () => {
    const a = await startTestOrchestrator();
    const redis = client();
    try {
      const m = buildTaskMessage({ description: 'Paint the office walls' }, a.config.domain);
      await sendTask(redis, a.keys, m);
      const o = await eventually(async () => {
        const x = await readOverview(redis, a.keys, a.config.domain);
        return x.failures.length ? x : undefined;
      });
      expect(renderOverview(o).join('\n')).toMatch(/RECENT FAILURES\n.*failed: no backend worker matches/);
    } finally {
      await a.orchestrator.stop();
      await redis.quit();
    }
  });
});
