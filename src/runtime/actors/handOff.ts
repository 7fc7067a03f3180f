import { fromPromise } from 'xstate';
import { handOff } from '../../redis/recovery.ts';
import type { ListenerShared } from './deps.ts';

/** The listener's `handOff` at a stop: what is pending goes out first, so the next holder starts from the checkpoint. */
export function handOffActor({ redis, keys, progress }: ListenerShared) {
  return fromPromise<void, { claimKeys: string[] }>(async ({ input }) => {
    await progress.flush();
    await handOff(redis, keys, input.claimKeys);
  });
}
