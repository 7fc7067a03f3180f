import type { Redis } from 'ioredis';
import type { Keys } from '../protocol/keys.ts';

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
