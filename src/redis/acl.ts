import type { Keys } from '../protocol/keys.ts';

/**
 * The Redis ACL rules of a least-privileged listener user for one domain:
 * only the keys and channels the listener touches (src/protocol/keys.ts),
 * only ordinary data, scripting and pub/sub commands, nothing that
 * administers the server. `results:*` cannot be narrowed further: result
 * keys are named by task id alone (PROTOCOL.md).
 *
 * @example
 * // ACL SETUSER backend-orch on >password <the rules, space-separated>
 * await redis.call('ACL', 'SETUSER', 'backend-orch', 'on', '>s3cret', ...listenerAclRules(keysFor('backend')));
 */
export function listenerAclRules(keys: Keys): string[] {
  return [
    'resetkeys',
    'resetchannels',
    `~${keys.pending}`,
    `~${keys.active}`,
    `~${keys.resultsPattern}`,
    `~${keys.agentsPattern}`,
    `~${keys.ownPattern}`,
    `&${keys.notifications}`,
    `&${keys.resultsPattern}`,
    `&${keys.control}`,
    // The breaker's broadcasts and each instance's own wake-up channel (`modelWake`).
    `&${keys.modelReleases}`,
    `&${keys.modelWakePattern}`,
    '-@all',
    '+@connection',
    '+@read',
    '+@write',
    '+@list',
    '+@hash',
    '+@string',
    '+@set',
    // The model gate's leases and the merged-branches index.
    '+@sortedset',
    '+@keyspace',
    '+@pubsub',
    '+@scripting',
    '+@transaction',
    '-@dangerous',
    // ioredis' ready check on connect; INFO is filed under @dangerous.
    '+info',
    // The model gate's clock (Redis time, the same for every instance).
    '+time',
  ];
}
