import { fromPromise } from 'xstate';
import type { AgentRunInput } from '../../../machines/worker.machine.ts';
import type { WorkerResult } from '../../protocol/output.ts';
import { logFields } from '../../protocol/taskRef.ts';
import { fixField, phaseField, progressField, resultField } from '../../redis/checkpoint.ts';
import { inSpan } from '../../observability/tracing.ts';
import { toWorkerRunError } from '../workerRunFailure.ts';
import type { ListenerShared, RunHooks } from './deps.ts';

const fileList = (r: WorkerResult): string => {
  const files = [...r.files_created.map((f) => `+${f}`), ...r.files_modified.map((f) => `~${f}`)];
  return files.length ? files.join(' ') : 'no files';
};

/**
 * One attempt of one worker (the worker machine's `runAgent`): its progress
 * in the checkpoint and the log, its span, its model waits told to the worker
 * actor, and its result saved before it counts as done.
 */
export function runAgentActor(shared: ListenerShared) {
  const { logger, progress, traces } = shared;
  return fromPromise<WorkerResult, AgentRunInput>(async ({ input, signal }) => {
    const { ref, step, attempt } = input;
    const worker = step.worker;
    const wlog = logger.child({ ...logFields(ref), worker });
    wlog.info({ attempt }, 'worker started');
    const started = Date.now();
    const { fix } = input;
    const startedLine = fix ? `fix round ${fix.round}/${fix.rounds}: ${worker}${attempt > 1 ? ` (attempt ${attempt})` : ''}` : `${worker} started${attempt > 1 ? ` (attempt ${attempt})` : ''}`;
    const fields = progressField(worker, { status: 'running', attempt, at: started });
    if (fix) {
      // Saved before the run: a holder that takes the task over after a crash resumes this round, not a new one.
      await progress.save({ ref, fields: { ...fields, ...fixField({ round: fix.round, workers: fix.workers }), ...phaseField('fixing') }, lines: [startedLine] });
    } else {
      progress.write({ ref, fields, lines: [startedLine] });
    }
    // The worker machine shows the wait (running.waitingForModel), watch shows it from the checkpoint.
    let waitingFor: string | undefined;
    const hooks: RunHooks = {
      onWait(wait) {
        if (signal.aborted || waitingFor === wait.reason) return;
        waitingFor = wait.reason;
        input.worker?.send({ type: 'MODEL_WAIT', ...wait });
        progress.write({
          ref,
          fields: progressField(worker, { status: 'waiting_for_model', attempt, at: Date.now(), reason: wait.reason }),
        });
      },
      onResume() {
        if (signal.aborted || waitingFor === undefined) return;
        waitingFor = undefined;
        input.worker?.send({ type: 'MODEL_RESUMED' });
        progress.write({ ref, fields: progressField(worker, { status: 'running', attempt, at: Date.now() }) });
      },
    };
    try {
      const result = await inSpan(
        `worker ${worker}`,
        { 'task.id': ref.key, 'worker.name': worker, 'worker.attempt': attempt },
        () => shared.runAgent(input, signal, hooks),
        { parent: traces.contextOf(ref) },
      );
      const ms = Date.now() - started;
      const tokens = result.usage.input_tokens + result.usage.output_tokens;
      // Saved, not just written: the result must be in the checkpoint before the worker counts as done.
      await progress.save({
        ref,
        fields: { ...resultField(result), ...progressField(worker, { status: 'succeeded', attempt, at: Date.now() }) },
        lines: [`${worker} succeeded in ${ms} ms: ${fileList(result)}${tokens ? `, ${tokens} tokens` : ''}`],
      });
      shared.onWorkerSaved?.(input);
      wlog.info({ attempt, ms, files_created: result.files_created, usage: result.usage }, 'worker succeeded');
      return result;
    } catch (error) {
      const failure = toWorkerRunError(error);
      if (!signal.aborted) {
        wlog.warn({ attempt, err: error, retryable: failure.retryable }, 'worker attempt failed');
        progress.write({
          ref,
          fields: progressField(worker, { status: 'failed', attempt, at: Date.now(), error: failure.message }),
          lines: [`${worker} attempt ${attempt} failed: ${failure.message}`],
        });
      }
      throw failure;
    }
  });
}
