import { describe, expect, it } from 'vitest';
import { buildTaskMessage, sendTask } from '../../src/client/send.ts';
import { statePath } from '../../src/diagrams/statePath.ts';
import { cleanupsAfterEach, client, eventually } from '../support/redis.ts';
import { startTestOrchestrator } from '../support/orchestrator.ts';

const cleanups = cleanupsAfterEach();

async function run(description: string) {
  const t = await startTestOrchestrator();
  cleanups.push(() => t.orchestrator.stop());
  const redis = client();
  cleanups.push(async () => redis.disconnect());
  const m = buildTaskMessage({ description }, t.config.domain);
  await sendTask(redis, t.keys, m);
  await eventually(async () => ((await redis.hget(t.keys.result(m.task_id), 'status')) === 'completed' || (await redis.hget(t.keys.result(m.task_id), 'status')) === 'failed' ? true : undefined), 20_000, 'the result');
  return statePath(await redis.lrange(t.keys.resultLogs(m.task_id), 0, -1));
}

describe("a task's state history", () => {
  it('is in its progress log, one line a transition with the edge it took, and outlives the checkpoint', async () => {
    const path = await run('Create user registration endpoint');
    expect(path.map((s) => [s.from, s.to, s.label])).toEqual([
      ['received', 'analyzing', 'always [isValid]'],
      ['analyzing', 'dispatching', 'done(planner) [else]'],
      ['dispatching', 'aggregating', 'always [allSettled]'],
      ['aggregating', 'publishing', 'always'],
    ]);
    expect(path.every((s) => s.at !== undefined && !Number.isNaN(Date.parse(s.at)))).toBe(true);
  }, 30_000);

  it('names the guard of the branch taken: a task no worker matches goes from analyzing to aggregating', async () => {
    const path = await run('Paint the office walls a nicer colour');
    expect(path.map((s) => `${s.from}→${s.to} ${s.label}`)).toEqual([
      'received→analyzing always [isValid]',
      'analyzing→aggregating done(planner) [planIsEmpty]',
      'aggregating→publishing always',
    ]);
  }, 30_000);
});
