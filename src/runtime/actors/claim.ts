import { fromPromise } from 'xstate';
import type { Claim } from '../../protocol/claim.ts';
import { logFields } from '../../protocol/taskRef.ts';
import { claimTasks } from '../../redis/queue.ts';
import { createRecovery } from '../../redis/recovery.ts';
import type { ListenerShared } from './deps.ts';

/**
 * The listener's `claim`: first (at start, then every recovery interval) the
 * tasks whose holder stopped, taken over with their checkpoints; then fresh
 * tasks from the pending list, up to the free slots.
 */
export function claimActor(shared: ListenerShared) {
  const { redis, keys, logger, progress, prompts } = shared;
  const held = (c: Claim): void => {
    // Before its first line: every batch of the task's progress carries the fencing token.
    progress.hold(c.ref, c.fence);
    shared.fenced.delete(c.ref.key);
    if (c.resume?.prompts) prompts.seed(c.ref, c.resume.prompts);
    shared.onClaimed?.(c);
  };
  const recover = createRecovery({ redis, keys, agentId: shared.agentId, orphanGraceMs: shared.orphanGraceMs });
  let nextRecovery = 0; // at once on start: a restart under the same id resumes its tasks
  return fromPromise<Claim[], { max: number; local: string[] }>(async ({ input }) => {
    let recovered: Claim[] = [];
    if (Date.now() >= nextRecovery) {
      nextRecovery = Date.now() + shared.recoveryIntervalMs;
      recovered = await recover(input.max, new Set(input.local));
      for (const c of recovered) {
        logger.warn({ ...logFields(c.ref), takeovers: c.resume?.takeovers, fence: c.fence }, 'took over a task whose holder stopped');
        held(c);
        // As at a fresh claim, only a task that parsed gets a line: a rejected one's log holds only its publication.
        if (c.parsed.ok) progress.write({ ref: c.ref, lines: [`taken over by ${shared.agentId} (takeover ${c.resume?.takeovers ?? 0})`] });
      }
    }
    const room = input.max - recovered.length;
    if (room <= 0) return recovered;
    const fresh = await claimTasks(
      { keys, agentId: shared.agentId, redis, blocking: shared.blocking },
      room,
      recovered.length ? 0.01 : shared.claimTimeoutSeconds,
      shared.deadLetterLimit,
    );
    for (const c of fresh) {
      held(c);
      if (c.parsed.ok) progress.write({ ref: c.ref, lines: [`claimed by ${shared.agentId}`] });
    }
    return recovered.concat(fresh);
  });
}
