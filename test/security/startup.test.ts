import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { buildTaskMessage, sendTask } from '../../src/client/send.ts';
import { startTestOrchestrator } from '../support/orchestrator.ts';
import { client, eventually } from '../support/redis.ts';
import { createLogger } from '../../src/logger.ts';
import { chooseSandbox } from '../../src/workers/sandbox/choose.ts';
import { SandboxUnavailableError } from '../../src/workers/sandbox/sandbox.ts';

function logger() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  return { logger: createLogger('info', { pretty: false, destination }), text: () => lines.join('') };
}

describe('start-up without a working sandbox', () => {
  it('refuses the anthropic model, naming what to install', async () => {
    const { logger: log } = logger();
    const attempt = chooseSandbox({ model: 'anthropic', unsafeNoSandbox: false, logger: log, bwrap: '/nonexistent/bwrap' });
    await expect(attempt).rejects.toBeInstanceOf(SandboxUnavailableError);
    await expect(attempt).rejects.toThrow(/apt-get install bubblewrap.*--unsafe-no-sandbox/);
  });

  it('runs the scripted stand-in without one, with a warning', async () => {
    const { logger: log, text } = logger();
    const sandbox = await chooseSandbox({ model: 'scripted', unsafeNoSandbox: false, logger: log, bwrap: '/nonexistent/bwrap' });
    expect(sandbox.kind).toBe('none');
    expect(text()).toMatch(/"level":40.*no working sandbox/);
  });

  it('--unsafe-no-sandbox starts the anthropic model with a warning; a working bwrap is used otherwise', async () => {
    const { logger: log, text } = logger();
    expect((await chooseSandbox({ model: 'anthropic', unsafeNoSandbox: true, logger: log, bwrap: '/nonexistent/bwrap' })).kind).toBe('none');
    expect(text()).toMatch(/WITHOUT a sandbox/);
    expect((await chooseSandbox({ model: 'anthropic', unsafeNoSandbox: false, logger: log })).kind).toBe('bwrap');
  });

  it('--unsafe-no-sandbox warns again on every task', async () => {
    const { logger: log, text } = logger();
    const { orchestrator, keys, config } = await startTestOrchestrator({ unsafeNoSandbox: true }, { logger: log });
    const redis = client();
    try {
      const m = buildTaskMessage({ description: 'Add an index to the orders table' }, config.domain);
      await sendTask(redis, keys, m);
      await eventually(async () => ((await redis.hget(keys.result(m.task_id), 'status')) === 'completed' ? true : undefined), 20_000, 'the result');
      const warnings = text().split('\n').filter((line) => line.includes('WITHOUT a sandbox'));
      expect(warnings.length).toBeGreaterThanOrEqual(2);
      expect(warnings.some((line) => line.includes(`"task_id":"${m.task_id}"`))).toBe(true);
    } finally {
      await orchestrator.stop();
      await redis.quit();
    }
  }, 30_000);
});
