import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { buildTaskMessage, sendTask } from '../../src/client/send.ts';
import { runCli } from '../support/cli.ts';
import { startTestOrchestrator } from '../support/orchestrator.ts';
import { cleanupsAfterEach, client, freshDomain, redisUrl } from '../support/redis.ts';

// `watch` prints 8 characters of each id; `watch <id>` takes them back, as
// status and cancel do: any unambiguous prefix, an ambiguous one lists the
// matches, and it follows the one task until its result is published.

const cleanups = cleanupsAfterEach();
const env = (): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, HOME: process.env.HOME });

describe('watch <task-id>', { timeout: 120_000 }, () => {
  it('takes any unambiguous prefix (finished, queued), lists the matches of an ambiguous one, says so of an unknown one', async () => {
    const { domain, keys } = freshDomain();
    const redis = client();
    cleanups.push(async () => redis.disconnect());
    const base = randomUUID().slice(0, 8);
    const finished = `${base}1111-finished`;
    const queued = `${base}2222-queued`;
    await redis.hset(keys.result(finished), 'task_id', finished, 'status', 'completed', 'outcome', 'completed', 'output', '{}', 'completed_at', '2026-01-01T00:00:09.000Z');
    await redis.rpush(keys.resultLogs(finished), '[2026-01-01T00:00:00.000Z] claimed', '[2026-01-01T00:00:09.000Z] result published');
    await sendTask(redis, keys, buildTaskMessage({ description: 'Create user registration endpoint', taskId: queued }, domain));
    const watch = (...args: string[]) => runCli(['watch', ...args, '--once', '--redis', redisUrl(), '--domain', domain], env());

    const [done, waiting, ambiguous, unknown] = await Promise.all([watch(`${base}1`), watch(`${base}2`), watch(base), watch(`${base}9`)]);
    expect(done.stderr).toBe('');
    expect(done.status).toBe(0);
    expect(done.stdout).toContain(`watch ${finished} · domain ${domain}`);
    expect(done.stdout).toContain('completed at 2026-01-01T00:00:09.000Z');
    expect(done.stdout).toContain('result published');

    expect(waiting.status, waiting.stderr).toBe(0);
    expect(waiting.stdout).toContain(`watch ${queued}`);
    expect(waiting.stdout).toContain('Create user registration endpoint');
    expect(waiting.stdout).toContain('queued: no listener has claimed it yet');

    expect(ambiguous.status).toBe(1);
    expect(ambiguous.stdout).toBe('');
    for (const id of [finished, queued]) expect(ambiguous.stderr).toContain(id);
    expect(ambiguous.stderr).toContain('give more characters');

    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toContain(`no task ${base}9 on domain ${domain}`);
  });

  it('follows a task from its 8 characters until it is published, then exits 0', async () => {
    const { orchestrator, config, keys } = await startTestOrchestrator({ resultGraceMs: 0, scripted: { defaultLatencyMs: 300, latencyMs: {}, fail: [] } });
    cleanups.push(() => orchestrator.stop());
    const redis = client();
    cleanups.push(async () => redis.disconnect());
    const message = buildTaskMessage({ description: 'Create a users table' }, config.domain);
    await sendTask(redis, keys, message);
    const run = await runCli(['watch', message.task_id.slice(0, 8), '--interval', '100', '--redis', redisUrl(), '--domain', config.domain], env());
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain(`watch ${message.task_id}`);
    expect(run.stdout).toMatch(/\ncompleted( \(completed\))? at /);
  });
});
