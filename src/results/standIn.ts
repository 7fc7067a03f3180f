import type { TaskOutput } from '../protocol/output.ts';

/** `output.stand_in` of every result a listener on the scripted model publishes. */
export const STAND_IN_NOTE =
  'written by the offline stand-in (--model scripted), not by Claude: placeholder code for trying the orchestrator, not work to keep';

/** The output marked as the stand-in's work (pure). */
export function markStandIn(output: TaskOutput): TaskOutput {
  return { ...output, stand_in: STAND_IN_NOTE };
}
