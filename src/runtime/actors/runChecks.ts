import { fromPromise } from 'xstate';
import { CHECKS_FIELD, type CheckResult } from '../../protocol/checks.ts';
import { logFields } from '../../protocol/taskRef.ts';
import { inSpan } from '../../observability/tracing.ts';
import { phaseField } from '../../redis/checkpoint.ts';
import type { RunChecksInput } from '../checkRunner.ts';
import type { ListenerShared } from './deps.ts';

const line = (c: CheckResult): string =>
  c.passed
    ? `verifying: ${c.command} passed (${c.duration_ms} ms)`
    : `verifying: ${c.command} failed (${c.error ?? `exit ${c.exit_code}`})`;

/**
 * The task machine's `runChecks`: the task's checks run where its workers
 * worked, each one's line in the task's log, and their latest runs saved to
 * the checkpoint (CHECKS_FIELD) before the machine acts on them, so `watch`,
 * the console and a resumed holder see them.
 */
export function runChecksActor(shared: ListenerShared) {
  const { logger, progress, traces } = shared;
  return fromPromise<CheckResult[], RunChecksInput>(async ({ input, signal }) => {
    if (!shared.runChecks) throw new Error('no check runner was provided: build the listener through src/runtime');
    const run = shared.runChecks;
    progress.write({ ref: input.ref, fields: phaseField('verifying'), lines: [`verifying: ${input.commands.length} check${input.commands.length === 1 ? '' : 's'}${input.round > 0 ? ` after fix round ${input.round}` : ''}`] });
    const checks: CheckResult[] = await inSpan('verify', { 'task.id': input.ref.key, 'checks.round': input.round }, () => run(input, signal), { parent: traces.contextOf(input.ref) });
    await progress.save({ ref: input.ref, fields: { [CHECKS_FIELD]: JSON.stringify(checks), ...phaseField('checked') }, lines: checks.map(line) });
    logger.info({ ...logFields(input.ref), round: input.round, passed: checks.filter((c) => c.passed).length, failed: checks.filter((c) => !c.passed).map((c) => c.command) }, 'checks ran');
    return checks;
  });
}
