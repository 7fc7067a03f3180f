import type { Redis } from 'ioredis';
import type { Config } from '../../config.ts';
import type { Logger } from '../../logger.ts';
import { createSpendLedger, type SpendLedger } from '../../limits/ledger.ts';
import type { Keys } from '../../protocol/keys.ts';
import type { ResourceStack } from '../resources.ts';

/** Each task's spend, written to Redis at most once a second and on a clean stop. */
export function openLedger(config: Config, deps: { redis: Redis; keys: Keys; logger: Logger }, stack: ResourceStack): SpendLedger {
  const ledger = createSpendLedger({
    redis: deps.redis,
    keys: deps.keys,
    agentId: config.agentId,
    flushMs: 1000,
    onError: (err) => deps.logger.warn({ err }, 'could not record spend'),
  });
  stack.add({ name: 'spend ledger', close: () => ledger.close() });
  return ledger;
}
