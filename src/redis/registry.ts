import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import type { Keys } from '../protocol/keys.ts';
import { OrchestratorError } from '../errors.ts';

export type AgentStatus = 'starting' | 'active' | 'busy' | 'stopping';

export interface RegistryOptions {
  redis: Redis;
  keys: Keys;
  agentId: string;
  domain: string;
  /** Heartbeat key TTL in seconds (PROTOCOL.md: 30). */
  ttlSeconds: number;
  /** Extra info fields; readers ignore those they do not know. */
  extra?: Record<string, string>;
}

/** Writes the info hash, adds the id to the three sets and sets the heartbeat, in one pipeline. */
export async function registerAgent(o: RegistryOptions, status: AgentStatus): Promise<void> {
  const now = new Date().toISOString();
  await o.redis
    .multi()
    .hset(o.keys.agentInfo(o.agentId), {
      agent_id: o.agentId,
      role: 'domain',
      domain_type: o.domain,
      status,
      created_at: now,
      last_heartbeat: now,
      ...o.extra,
    })
    .sadd(o.keys.agentsAll, o.agentId)
    .sadd(o.keys.agentsDomains, o.agentId)
    .sadd(o.keys.agentsOfDomain, o.agentId)
    .set(o.keys.agentHeartbeat(o.agentId), now, 'EX', o.ttlSeconds)
    .exec();
}

/** Refreshes the heartbeat key's TTL and `last_heartbeat` (and the status when given). */
export async function heartbeat(o: RegistryOptions, status?: AgentStatus): Promise<void> {
  const now = new Date().toISOString();
  const fields: Record<string, string> = { last_heartbeat: now };
  if (status) fields.status = status;
  await o.redis
    .multi()
    .set(o.keys.agentHeartbeat(o.agentId), now, 'EX', o.ttlSeconds)
    .hset(o.keys.agentInfo(o.agentId), fields)
    .exec();
}

/** Removes the id from the sets and deletes the info hash and the heartbeat key. */
export async function deregisterAgent(o: RegistryOptions): Promise<void> {
  await o.redis
    .multi()
    .srem(o.keys.agentsAll, o.agentId)
    .srem(o.keys.agentsDomains, o.agentId)
    .srem(o.keys.agentsOfDomain, o.agentId)
    .del(o.keys.agentInfo(o.agentId), o.keys.agentHeartbeat(o.agentId))
    .exec();
}

/** Another live process on this host registered under the same agent id. */
export class AgentIdInUseError extends OrchestratorError {
  override readonly cliExitCode: number = 2;
}

/** Whether /proc says `pid` is a zombie (state Z): dead, only not yet reaped by its parent. */
const zombie = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) S ...": comm may hold spaces and parentheses, the state follows the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 1).trim().startsWith('Z');
  } catch {
    return false; // no /proc (not Linux), or gone since
  }
};

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'EPERM') return false; // EPERM: there, but another user's
  }
  // A listener SIGKILLed a moment ago can still be a zombie its parent has not reaped: it holds nothing.
  return !zombie(pid);
};

/**
 * Refuses to start under an agent id that a live listener on this host
 * holds (the default id is `{domain}-{hostname}`, so a second process on one
 * host would otherwise take over the first one's tasks and run them twice).
 * A holder whose process is gone (a restart after a crash), or is a zombie
 * not yet reaped, does not count:
 * resuming its tasks under the same id is what the id is for.
 */
export async function checkAgentIdFree(o: Pick<RegistryOptions, 'redis' | 'keys' | 'agentId'>, self: { host: string; pid: number }): Promise<void> {
  const [beat, [host, pid]] = await Promise.all([
    o.redis.exists(o.keys.agentHeartbeat(o.agentId)),
    o.redis.hmget(o.keys.agentInfo(o.agentId), 'host', 'pid'),
  ]);
  const holder = Number(pid);
  if (beat === 0 || host !== self.host || !Number.isInteger(holder) || holder <= 0 || holder === self.pid) return;
  if (!alive(holder)) return;
  throw new AgentIdInUseError(
    `agent id ${JSON.stringify(o.agentId)} is held by a running listener on this host (pid ${holder}): ` +
      `give each process its own --agent-id, e.g. ${o.agentId}-2`,
  );
}
