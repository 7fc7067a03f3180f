/**
 * Every Redis key name, in one place. The first group is the peers' contract
 * (../shared/PROTOCOL.md); the last is ours, under a prefix peers never read.
 */
export interface Keys {
  pending: string;
  active: string;
  notifications: string;
  result(taskId: string): string;
  resultLogs(taskId: string): string;
  resultChannel(taskId: string): string;
  agentsAll: string;
  agentsDomains: string;
  agentsOfDomain: string;
  agentInfo(agentId: string): string;
  agentHeartbeat(agentId: string): string;
  /** Ours: raw text of rejected messages, newest first (LIST of JSON entries). */
  deadLetters: string;
  /** Ours: a claimed task's checkpoint and ownership (HASH), see src/redis/checkpoint.ts. */
  checkpoint(claimKey: string): string;
  /**
   * Ours: the domain's fencing counter (STRING, INCR): every claim, takeover
   * and adoption takes the next value and writes it into the checkpoint's
   * `fence`; a holder's side effects go through only while the checkpoint
   * still carries its value. One counter for the domain: a value is never
   * handed out twice, also not to a later delivery of the same task id.
   */
  fence: string;
  /** Ours: each worker's prompt as last sent, scrubbed (HASH worker → JSON), kept `promptRetentionSeconds`; see src/redis/prompts.ts. */
  prompts(claimKey: string): string;
  /** Ours: the last 50 failed or partial results, newest first (LIST of JSON), for `watch`. */
  recentFailures: string;
  /** Ours: control messages to every listener of the domain (cancel). */
  control: string;
  /** Ours: model-call leases in flight across the domain (ZSET lease id → expiry ms), see src/limits/modelGate.ts. */
  modelLeases: string;
  /** Ours: the domain's circuit breaker over the model API (HASH). */
  modelBreaker: string;
  /** Ours: tokens used per minute, `in:{minute}` and `out:{minute}` (HASH). */
  modelTokens: string;
  /** Ours: a message on each lease release, so waiting instances try again at once. */
  modelReleases: string;
  /** Ours: dollars spent per instance (HASH agent id → USD). */
  spend: string;
  /** Ours: the prefix of everything else we keep. */
  own: string;
}

export function keysFor(domain: string, ownPrefix = `orch:${domain}:`): Keys {
  return {
    pending: `tasks:pending:${domain}`,
    active: `tasks:active:${domain}`,
    notifications: `notifications:${domain}`,
    result: (id) => `results:${id}`,
    resultLogs: (id) => `results:${id}:logs`,
    resultChannel: (id) => `results:${id}`,
    agentsAll: 'agents:all',
    agentsDomains: 'agents:domains',
    agentsOfDomain: `agents:domains:${domain}`,
    agentInfo: (id) => `agents:info:${id}`,
    agentHeartbeat: (id) => `agents:heartbeat:${id}`,
    deadLetters: `${ownPrefix}dead-letters`,
    checkpoint: (claimKey) => `${ownPrefix}task:${claimKey}`,
    prompts: (claimKey) => `${ownPrefix}prompts:${claimKey}`,
    fence: `${ownPrefix}fence`,
    control: `${ownPrefix}control`,
    recentFailures: `${ownPrefix}recent-failures`,
    modelLeases: `${ownPrefix}model:leases`,
    modelBreaker: `${ownPrefix}model:breaker`,
    modelTokens: `${ownPrefix}model:tokens`,
    modelReleases: `${ownPrefix}model:releases`,
    spend: `${ownPrefix}spend`,
    own: ownPrefix,
  };
}

/** A progress line as the network's log tailers expect it. */
export function logLine(message: string, at: Date = new Date()): string {
  return `[${at.toISOString()}] ${message}`;
}
