import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentIdInUseError } from '../../src/redis/registry.ts';
import { startTestOrchestrator } from '../support/orchestrator.ts';
import { client, freshDomain } from '../support/redis.ts';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve().then(c).catch(() => undefined);
});

/** Registers `agentId` the way a listener in process `pid` on `host` would have. */
async function registeredBy(agentId: string, domain: string, pid: number, host = hostname()) {
  const r = client();
  cleanups.push(() => r.disconnect());
  const { keys } = freshDomain();
  await r.hset(keys.agentInfo(agentId), { agent_id: agentId, role: 'domain', domain_type: domain, status: 'active', pid: String(pid), host });
  await r.set(keys.agentHeartbeat(agentId), new Date().toISOString(), 'EX', 30);
  cleanups.push(() => r.del(keys.agentInfo(agentId), keys.agentHeartbeat(agentId)));
}

function otherProcess() {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  cleanups.push(() => child.kill('SIGKILL'));
  return child;
}

describe('one agent id, one process', () => {
  it('refuses to start under an agent id a live listener on this host holds, saying what to do', async () => {
    const { domain } = freshDomain();
    const agentId = `${domain}-${hostname()}`;
    await registeredBy(agentId, domain, otherProcess().pid!);
    const start = startTestOrchestrator({ domain, agentId });
    await expect(start).rejects.toThrow(AgentIdInUseError);
    await expect(start).rejects.toThrow(/held by a running listener on this host \(pid \d+\): give each process its own --agent-id/);
  });

  it('starts under the id of a holder whose process is gone (a restart after a crash), or that runs on another host', async () => {
    const { domain } = freshDomain();
    const gone = otherProcess();
    await new Promise((resolve) => {
      gone.once('exit', resolve);
      gone.kill('SIGKILL');
    });
    await registeredBy(`${domain}-a`, domain, gone.pid!);
    const t = await startTestOrchestrator({ domain, agentId: `${domain}-a` });
    cleanups.push(() => t.orchestrator.stop());

    await registeredBy(`${domain}-b`, domain, otherProcess().pid!, 'another-host');
    const u = await startTestOrchestrator({ domain, agentId: `${domain}-b` });
    cleanups.push(() => u.orchestrator.stop());
    const r = client();
    cleanups.push(() => r.disconnect());
    expect(await r.hget(t.keys.agentInfo(`${domain}-b`), 'host')).toBe(hostname());
    expect(await r.hget(t.keys.agentInfo(`${domain}-b`), 'pid')).toBe(String(process.pid));
  });

  it('starts under the id of a holder that was SIGKILLed and is still a zombie (not yet reaped by its parent)', async () => {
    // sh forks a child, then becomes `sleep`, which never reaps it: once the child exits (after the exec,
    // so sh cannot reap it first), a zombie for 30 s.
    const parent = spawn('sh', ['-c', 'sleep 0.3 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
    cleanups.push(() => parent.kill('SIGKILL'));
    const pid = await new Promise<number>((resolve) => parent.stdout!.once('data', (d: Buffer) => resolve(Number(String(d).trim()))));
    const state = async () => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
    for (let i = 0; i < 250 && (await state()) !== 'Z'; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await state()).toBe('Z');
    expect(() => process.kill(pid, 0)).not.toThrow(); // the pid still "exists"
    const { domain } = freshDomain();
    await registeredBy(`${domain}-z`, domain, pid);
    const t = await startTestOrchestrator({ domain, agentId: `${domain}-z` });
    cleanups.push(() => t.orchestrator.stop());
  });
});
