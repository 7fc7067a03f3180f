/**
 * Every Redis key, channel and key pattern, in one place: nothing else in
 * src/ spells one (test/protocol/keys.test.ts pins each string and fails on
 * a key built elsewhere). The first group is the peers' contract (the
 * network's PROTOCOL.md); those marked "Ours" live under a prefix peers never read.
 * The strings are read by peers and by running deployments: a change here is
 * a change of the wire format.
 */
export interface Keys {
  /** Waiting tasks, producers LPUSH the task JSON, oldest at the right (LIST). */
  pending: string;
  /** Tasks being worked on, the exact string claimed, moved there atomically (LIST). */
  active: string;
  /** Producers PUBLISH the task JSON after pushing: an optional wake-up (channel). */
  notifications: string;
  /** A task's result record: status, output, completed_at, error (HASH). */
  result(taskId: string): string;
  /** A task's progress lines, RPUSHed as `[ISO time] text` (LIST, see logLine). */
  resultLogs(taskId: string): string;
  /** The final result, announced as JSON of the record's fields (channel). */
  resultChannel(taskId: string): string;
  /** Every result record and channel (pattern, for PSUBSCRIBE and the ACL). */
  resultsPattern: string;
  /** The task id of a `results:{id}` record key or channel, undefined for anything else. */
  taskIdOfResult(key: string): string | undefined;
  /** Every key beginning `results:{prefix}` (pattern, for SCAN MATCH; the prefix's glob characters escaped): result records, and their logs. */
  resultsStartingWith(prefix: string): string;
  /** Every checkpoint whose task key begins with `prefix` (pattern, for SCAN MATCH; glob characters escaped). */
  checkpointsStartingWith(prefix: string): string;
  /** The task key of a `checkpoint` key, undefined for another key. */
  taskKeyOfCheckpoint(key: string): string | undefined;
  /** Every registered agent id (SET). */
  agentsAll: string;
  /** The ids of domain orchestrators, every type (SET). */
  agentsDomains: string;
  /** The ids of this domain's orchestrators (SET). */
  agentsOfDomain: string;
  /** An agent's record: agent_id, role, domain_type, status, created_at, last_heartbeat (HASH). */
  agentInfo(agentId: string): string;
  /** An agent's liveness: an ISO time with a TTL, gone when it stops beating (STRING). */
  agentHeartbeat(agentId: string): string;
  /** Every agent key (pattern, for the ACL). */
  agentsPattern: string;
  /** Ours: raw text of rejected messages, newest first (LIST of JSON entries). */
  deadLetters: string;
  /** Ours: a claimed task's checkpoint and ownership (HASH), see src/redis/checkpoint.ts. */
  checkpoint(taskKey: string): string;
  /**
   * Ours: the domain's fencing counter (STRING, INCR): every claim, takeover
   * and adoption takes the next value and writes it into the checkpoint's
   * `fence`; a holder's side effects go through only while the checkpoint
   * still carries its value. One counter for the domain: a value is never
   * handed out twice, also not to a later delivery of the same task id.
   */
  fence: string;
  /** Ours: each worker's prompt as last sent, scrubbed (HASH worker → JSON), kept `promptRetentionSeconds`; see src/redis/prompts.ts. */
  prompts(taskKey: string): string;
  /** Ours: the last 50 failed or partial results, newest first (LIST of JSON), for `watch`. */
  recentFailures: string;
  /** Ours: control messages to every listener of the domain (cancel). */
  control: string;
  /**
   * Ours: the published tasks of one finished state (completed, partial,
   * failed, cancelled), for the console's tasks page (ZSET task id →
   * publication time ms), the newest TASK_INDEX_LIMIT kept; see src/redis/taskIndex.ts.
   */
  tasksFinished(state: string): string;
  /** Ours: what the tasks page shows of each indexed task (HASH task id → JSON), trimmed with the sets. */
  tasksInfo: string;
  /** Ours: model-call leases in flight across the domain (ZSET lease id → expiry ms), see src/limits/modelGate.ts. */
  modelLeases: string;
  /** Ours: the domain's circuit breaker over the model API (HASH). */
  modelBreaker: string;
  /** Ours: tokens used per minute, `in:{minute}` and `out:{minute}` (HASH). */
  modelTokens: string;
  /** Ours: a message on each lease release, so waiting instances try again at once. */
  modelReleases: string;
  /** Ours: instances waiting for a model slot, oldest first (ZSET gate id → queued at µs). */
  modelWaiting: string;
  /** Ours: the prefix of each instance's own wake-up channel, `modelWake(gateId)`; the gate's Lua appends the id. */
  modelWakePrefix: string;
  /** Ours: the one instance woken for a freed model slot (channel). */
  modelWake(gateId: string): string;
  /** Ours: every instance's wake-up channel (pattern, for the ACL). */
  modelWakePattern: string;
  /** Ours: the lock around merging into one project and updating its folder (STRING holder token, TTL); `projectHash` names the project folder. */
  mergeLock(projectHash: string): string;
  /** Ours: the lock a task holds on a project it works in place, isolation none (STRING holder token, TTL). */
  projectLock(projectHash: string): string;
  /** Ours: merged task branches the sweeper deletes when old (ZSET JSON {project, branch, tip} → merged at ms). */
  mergedBranches: string;
  /** Ours: dollars spent per instance (HASH agent id → USD). */
  spend: string;
  /** Ours: the prefix of everything else we keep. */
  own: string;
  /** Ours: everything under `own` (pattern, for the ACL). */
  ownPattern: string;
}

/** `text` matched literally in a Redis glob pattern (MATCH, PSUBSCRIBE). */
const globEscape = (text: string): string => text.replace(/[*?[\]\\]/g, '\\$&');

export function keysFor(domain: string, ownPrefix = `orch:${domain}:`): Keys {
  return {
    pending: `tasks:pending:${domain}`,
    active: `tasks:active:${domain}`,
    notifications: `notifications:${domain}`,
    result: (id) => `results:${id}`,
    resultLogs: (id) => `results:${id}:logs`,
    resultChannel: (id) => `results:${id}`,
    resultsPattern: 'results:*',
    taskIdOfResult: (key) => (key.startsWith('results:') ? key.slice('results:'.length) : undefined),
    resultsStartingWith: (prefix) => `results:${globEscape(prefix)}*`,
    checkpointsStartingWith: (prefix) => `${ownPrefix}task:${globEscape(prefix)}*`,
    taskKeyOfCheckpoint: (key) => (key.startsWith(`${ownPrefix}task:`) ? key.slice(`${ownPrefix}task:`.length) : undefined),
    agentsAll: 'agents:all',
    agentsDomains: 'agents:domains',
    agentsOfDomain: `agents:domains:${domain}`,
    agentInfo: (id) => `agents:info:${id}`,
    agentHeartbeat: (id) => `agents:heartbeat:${id}`,
    agentsPattern: 'agents:*',
    deadLetters: `${ownPrefix}dead-letters`,
    checkpoint: (taskKey) => `${ownPrefix}task:${taskKey}`,
    prompts: (taskKey) => `${ownPrefix}prompts:${taskKey}`,
    fence: `${ownPrefix}fence`,
    control: `${ownPrefix}control`,
    tasksFinished: (state) => `${ownPrefix}tasks:${state}`,
    tasksInfo: `${ownPrefix}tasks:info`,
    recentFailures: `${ownPrefix}recent-failures`,
    modelLeases: `${ownPrefix}model:leases`,
    modelBreaker: `${ownPrefix}model:breaker`,
    modelTokens: `${ownPrefix}model:tokens`,
    modelReleases: `${ownPrefix}model:releases`,
    modelWaiting: `${ownPrefix}model:leases:waiting`,
    modelWakePrefix: `${ownPrefix}model:releases:`,
    modelWake: (gateId) => `${ownPrefix}model:releases:${gateId}`,
    modelWakePattern: `${ownPrefix}model:releases:*`,
    mergeLock: (projectHash) => `${ownPrefix}merge-lock:${projectHash}`,
    projectLock: (projectHash) => `${ownPrefix}project-lock:${projectHash}`,
    mergedBranches: `${ownPrefix}merged-branches`,
    spend: `${ownPrefix}spend`,
    own: ownPrefix,
    ownPattern: `${ownPrefix}*`,
  };
}

/** A progress line as the network's log tailers expect it. */
export function logLine(message: string, at: Date = new Date()): string {
  return `[${at.toISOString()}] ${message}`;
}
