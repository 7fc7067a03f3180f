import type { AnyStateNode, AnyTransitionDefinition, InspectionEvent } from 'xstate';
import { stateLine } from '../diagrams/statePath.ts';
import { edgeLabel } from '../diagrams/transitionLabel.ts';
import type { TaskRef } from '../protocol/taskRef.ts';
import type { ProgressWriter } from '../redis/progress.ts';

/** State lines one holder writes for one task at most (a normal task takes 4 to 6; publish retries add 2 each, 8 at most). */
export const MAX_STATE_LINES = 40;


/**
 * The task machine's state history, in the task's progress log: each
 * transition a task actor takes between top-level states becomes a line
 * (src/diagrams/statePath.ts), held and sent with the task's next progress
 * step like any line, so it costs no command of its own and outlives the
 * checkpoint. Read off the inspection stream's microsteps (every
 * transition, eventless ones included, with the guard that chose it), so
 * the machine stays free of I/O. Bounded per actor by MAX_STATE_LINES.
 * Lines of a task no longer held (after its publication) are dropped by
 * the writer; the final state follows from the published outcome.
 */
export function recordTaskStates(progress: Pick<ProgressWriter, 'write'>) {
  const written = new WeakMap<object, number>();
  return (event: InspectionEvent): void => {
    if (event.type !== '@xstate.microstep') return;
    const snapshot = event.snapshot as { machine?: { id?: string }; context?: { ref?: TaskRef } };
    const ref = snapshot.context?.ref;
    if (snapshot.machine?.id !== 'task' || ref?.id === undefined) return;
    const lines: string[] = [];
    for (const t of event._transitions as AnyTransitionDefinition[]) {
      const source = t.source as AnyStateNode;
      const from = source.path[0];
      for (const target of t.target ?? []) {
        const to = target.path[0];
        if (from !== undefined && to !== undefined) lines.push(stateLine(from, to, edgeLabel(source, t)));
      }
    }
    const count = written.get(event.actorRef) ?? 0;
    if (lines.length === 0 || count >= MAX_STATE_LINES) return;
    written.set(event.actorRef, count + lines.length);
    progress.write({ ref, lines });
  };
}
