import { fromPromise } from 'xstate';
import type { FinalResult } from '../../protocol/claim.ts';
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
      await progress.idle(input.claimKey);
      const { waitedMs, forced } = await inSpan('publish', { 'task.id': input.taskId ?? input.claimKey }, () =>
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
            lines: progress.lines(input.claimKey, input.taskId),
            prompts: prompts.of(input.claimKey),
            promptTtlSeconds: shared.promptRetentionSeconds,
          },
          input,
        ),
        { parent: traces.contextOf(input.claimKey, input.taskId) },
      );
      shared.done(input.claimKey);
      traces.finish(input.claimKey, input.taskId, input.outcome, input.error);
      const fields = { task_id: input.taskId, outcome: input.outcome, waited_ms: waitedMs, forced };
      if (input.deadLetter !== undefined) logger.warn({ ...fields, reason: input.deadLetter }, 'message dead-lettered');
      else logger.info(fields, 'result published');
      return { published: true };
    } catch (error) {
      if (!(error instanceof OwnershipLostError)) throw error;
      shared.done(input.claimKey);
      traces.finish(input.claimKey, input.taskId, 'superseded');
      logger.warn({ task_id: input.taskId, claim: input.claimKey }, error.message);
      return { published: false };
    }
  });
}
