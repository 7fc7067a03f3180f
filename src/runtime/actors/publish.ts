import { fromPromise } from 'xstate';
import type { FinalResult } from '../../protocol/claim.ts';
import { logFields } from '../../protocol/taskRef.ts';
import { OwnershipLostError, publishResult } from '../../redis/results.ts';
import { scrubDeep } from '../../secrets.ts';
import { inSpan } from '../../observability/tracing.ts';
import type { ListenerShared } from './deps.ts';

/**
 * The task machine's `publish`: the project merge (when there is one), the
 * secrets scrubbed, the task's last progress, then the publication; a task
 * another instance holds now is dropped without publishing.
 */
export function publishActor(shared: ListenerShared) {
  const { redis, keys, logger, progress, prompts, traces } = shared;
  return fromPromise<{ published: boolean }, FinalResult>(async ({ input: claimed, signal }) => {
    const unscrubbed = shared.beforePublish ? await shared.beforePublish(claimed) : claimed;
    // Whatever a worker echoed (a key it found, an error quoting a URL) leaves without our secrets.
    const input: FinalResult = shared.scrub
      ? {
          ...unscrubbed,
          output: scrubDeep(unscrubbed.output, shared.scrub) as FinalResult['output'],
          error: unscrubbed.error === undefined ? undefined : shared.scrub(unscrubbed.error),
        }
      : unscrubbed;
    try {
      // A batch of the task's progress under way goes first: its lines precede "result published".
      await progress.idle(input.ref);
      const { waitedMs, forced } = await inSpan('publish', { 'task.id': input.ref.key }, () =>
        publishResult(
          {
            redis,
            keys,
            agentId: shared.agentId,
            owner: shared.agentId,
            graceMs: shared.resultGraceMs,
            deadLetterLimit: shared.deadLetterLimit,
            signal,
            // Taken only once published: a publication retried after a Redis error carries them again.
            lines: progress.lines(input.ref),
            prompts: prompts.of(input.ref),
            promptTtlSeconds: shared.promptRetentionSeconds,
          },
          input,
        ),
        { parent: traces.contextOf(input.ref) },
      );
      shared.done(input.ref);
      traces.finish(input.ref, input.outcome, input.error);
      const fields = { ...logFields(input.ref), outcome: input.outcome, waited_ms: waitedMs, forced };
      if (input.deadLetter !== undefined) logger.warn({ ...fields, reason: input.deadLetter }, 'message dead-lettered');
      else logger.info(fields, 'result published');
      return { published: true };
    } catch (error) {
      if (!(error instanceof OwnershipLostError)) throw error;
      shared.done(input.ref);
      traces.finish(input.ref, 'superseded');
      logger.warn(logFields(input.ref), error.message);
      return { published: false };
    }
  });
}
