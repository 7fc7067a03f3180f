import { fromPromise } from 'xstate';
import type { TaskRef } from '../../protocol/taskRef.ts';
import { handOff } from '../../redis/recovery.ts';
import type { ListenerShared } from './deps.ts';

/** The listener's `handOff` at a stop: what is pending goes out first, so the next holder starts from the checkpoint. */
export function handOffActor({ redis, keys, progress }: ListenerShared) {
  return fromPromise<void, { tasks: TaskRef[] }>(async ({ input }) => {
    await progress.flush();
    await handOff(redis, keys, input.tasks);
  });
}
