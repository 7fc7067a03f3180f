import { fromPromise } from 'xstate';
import type { Plan } from '../../protocol/plan.ts';
import type { TaskMessage } from '../../protocol/task.ts';
import { logFields, type TaskRef } from '../../protocol/taskRef.ts';
import { planField } from '../../redis/checkpoint.ts';
import { inSpan } from '../../observability/tracing.ts';
import type { ListenerShared } from './deps.ts';

const describePlan = (plan: Plan): string =>
  plan.steps
    .map((s) => `${s.worker}${s.dependsOn.length ? ` (after ${s.dependsOn.join(', ')})` : ''}${s.critical ? '' : ' [non-critical]'}`)
    .join(', ');

/** The task machine's `planTask`: the plan, its span, and its lines in the task's log. */
export function planTaskActor(shared: ListenerShared) {
  const { logger, progress, traces } = shared;
  return fromPromise<Plan, { task: TaskMessage; ref: TaskRef }>(async ({ input, signal }) => {
    const plan = await inSpan(
      'plan',
      { 'task.id': input.ref.key },
      async (span) => {
        const p = await shared.plan(input.task, input.ref, signal);
        span.setAttributes({ 'plan.source': p.source, 'plan.workers': p.steps.map((s) => s.worker) });
        return p;
      },
      { parent: traces.contextOf(input.ref) },
    );
    // Written with the task's next saved step (its first worker's result): nothing waits for it, and
    // it cannot go out after that step, so a checkpoint never holds a result without its plan.
    progress.write({
      ref: input.ref,
      fields: planField(plan),
      lines: [...plan.notes.map((n) => `plan note: ${n}`), plan.steps.length ? `plan (${plan.source}): ${describePlan(plan)}` : 'plan: no worker matches'],
    });
    logger.info({ ...logFields(input.ref), plan: plan.steps.map((s) => s.worker), source: plan.source, notes: plan.notes }, 'task planned');
    return plan;
  });
}
