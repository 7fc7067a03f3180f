/**
 * A task's path through the task machine, kept in its progress log (the
 * `results:{id}:logs` list, which outlives the checkpoint): one line a
 * transition, `task machine: received → analyzing (always [isValid])`,
 * written by the runtime (src/runtime/stateHistory.ts) and read back by the
 * console to draw the path. The label is edgeLabel's, as on the drawn edge.
 */

export interface StateStep {
  from: string;
  to: string;
  /** `event [guard]`, as the statechart labels the edge. */
  label: string;
  /** When it was logged (ISO), from the line's stamp. */
  at: string | undefined;
}

const PREFIX = 'task machine: ';

export const stateLine = (from: string, to: string, label: string): string => `${PREFIX}${from} → ${to} (${label})`;

const LINE = /^(?:\[([^\]]+)\] )?task machine: (\S+) → (\S+) \((.*)\)$/;

/** The steps among a task's log lines, in order; other lines are skipped. */
export function statePath(lines: readonly string[]): StateStep[] {
  const steps: StateStep[] = [];
  for (const line of lines) {
    if (!line.includes(PREFIX)) continue;
    const m = LINE.exec(line);
    if (m) steps.push({ at: m[1], from: m[2]!, to: m[3]!, label: m[4]! });
  }
  return steps;
}
