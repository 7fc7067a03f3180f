import { fromCallback } from 'xstate';
import { logFields } from '../../protocol/taskRef.ts';
import { StaleHolderError } from '../../redis/progress.ts';
import { heartbeat } from '../../redis/registry.ts';
import type { ListenerShared } from './deps.ts';

/**
 * The heartbeat is this instance's lease on its tasks; its actor also stops the tasks whose lease
 * moved on: a write refused for a stale fencing token means another instance holds the task now.
 * The task is cancelled in its listener (its workers stop; its publication, refused for the same
 * token, publishes nothing), and nothing more of it is written from here.
 */
export function heartbeatActor(shared: ListenerShared) {
  const { logger, progress, registry } = shared;
  return fromCallback(({ sendBack }) => {
    const offStale = progress.onStale((ref, fence) => {
      if (shared.fenced.has(ref.key)) return;
      shared.fenced.add(ref.key);
      logger.warn(
        { ...logFields(ref), fence },
        'stale holder: another instance took this task over; its progress, merge and publication are refused here, and the task stops without publishing',
      );
      shared.done(ref, new StaleHolderError(ref.key, fence));
      // A message with no id is only being published as rejected, which takes no cancel: nothing to stop.
      if (ref.id !== undefined) sendBack({ type: 'CANCEL_TASK', taskId: ref.id, reason: 'stale holder: another instance holds this task now' });
    });
    // One beat at a time: while Redis is away a beat waits in ioredis's offline
    // queue, and piling one up per period would replay them all on reconnect
    // (or fail them all, each with its own log line, when the stop gives up).
    let beating = false;
    const timer = setInterval(() => {
      if (beating) return;
      beating = true;
      heartbeat(registry)
        .catch((error: unknown) => logger.warn({ err: error }, 'heartbeat failed'))
        .finally(() => (beating = false));
    }, shared.heartbeatIntervalMs);
    return () => {
      clearInterval(timer);
      offStale();
    };
  });
}
