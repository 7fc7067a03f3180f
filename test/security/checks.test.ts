import { mkdtempSync, writeFileSync, existsSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildTaskMessage, sendTask } from '../../src/client/send.ts';
import type { TaskOutput } from '../../src/protocol/output.ts';
import { probeBox } from '../../src/workers/box/index.ts';
import { fixingModel } from '../support/fixingModel.ts';
import { startTestOrchestrator } from '../support/orchestrator.ts';
import { gitIn, sampleProject } from '../support/project.ts';
import { client, eventually, redisUrl } from '../support/redis.ts';

// Checks (--verify) are commands too, and what a worker wrote can make a
// check run anything: they run in the task's box, which holds nothing of the
// host. Through the whole listener; CI runs this file as root and again as
// an ordinary user (test/security is in BOX_TESTS).

const who = process.getuid?.() === 0 ? 'root' : 'an ordinary user';
const why = await probeBox();
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

describe.skipIf(why !== undefined)(`checks of a listener started by ${who}`, () => {
  it('cannot read host files, reach Redis, or write outside the task’s layer; a failing escape is not merged', async () => {
    const host = mkdtempSync(join(tmpdir(), 'orch-check-host-'));
    chmodSync(host, 0o755);
    const secret = join(host, 'secret.txt');
    writeFileSync(secret, 'HOST-SECRET-CHECK\n', { mode: 0o644 });
    const pwned = join(host, 'pwned');
    const port = new URL(redisUrl()).port || '6379';
    const project = await sampleProject();
    const base = gitIn(project, 'rev-parse', 'main');
    const verify = [
      `cat ${secret}`,
      `exec 3<>/dev/tcp/127.0.0.1/${port} && printf 'PING\\r\\n' >&3 && head -c 7 <&3`,
      `echo x > ${pwned}`,
      `echo x > ${join(project, 'written-by-a-check')}`,
    ];
    const t = await startTestOrchestrator({ project, isolation: 'box', verify, fixRounds: 0 }, { model: fixingModel().model });
    const redis = client();
    cleanups.push(() => redis.quit(), () => t.orchestrator.stop());
    const m = buildTaskMessage({ description: 'Create user registration endpoint' }, t.config.domain);
    await sendTask(redis, t.keys, m);
    const record = await eventually(async () => {
      const h = await redis.hgetall(`results:${m.task_id}`);
      return h.status === 'completed' || h.status === 'failed' ? h : undefined;
    }, 90_000, 'the result');
    const out = JSON.parse(record.output!) as TaskOutput;
    expect(out.checks).toHaveLength(4);
    const [read, reach, outside] = out.checks!;
    expect(read!.passed).toBe(false);
    expect(read!.output_tail).not.toContain('HOST-SECRET-CHECK');
    expect(reach!.passed).toBe(false);
    expect(reach!.output_tail).not.toContain('PONG');
    expect(outside!.passed).toBe(false);
    expect(existsSync(pwned)).toBe(false);
    // The project folder is not the box's view: a write there lands in the task's layer (or nowhere), never in the folder.
    expect(existsSync(join(project, 'written-by-a-check'))).toBe(false);
    expect(out.outcome).toBe('completed_with_warnings');
    expect(out.git?.merged).toBeNull();
    expect(gitIn(project, 'rev-parse', 'main')).toBe(base);
    expect(gitIn(project, 'ls-tree', '-r', '--name-only', `${t.config.domain}/${m.task_id}`)).not.toContain('written-by-a-check');
  }, 120_000);
});
