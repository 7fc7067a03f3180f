import { CHECKS_FIELD, type CheckResult } from '../protocol/checks.ts';

const isCheck = (value: unknown): value is CheckResult => {
  if (value === null || typeof value !== 'object') return false;
  const c = value as Record<string, unknown>;
  return (
    typeof c.command === 'string' &&
    typeof c.passed === 'boolean' &&
    (c.exit_code === null || typeof c.exit_code === 'number') &&
    typeof c.duration_ms === 'number' &&
    typeof c.rounds === 'number' &&
    typeof c.output_tail === 'string' &&
    (c.error === undefined || typeof c.error === 'string')
  );
};

/**
 * The checks of a task as the views show them: the checkpoint's `checks`
 * field (JSON CheckResult[]) while it runs, `output.checks` once published.
 * Whatever is not a CheckResult is left out (another version's field, a
 * torn write): a view shows what it can read, never throws.
 */
export function checksOf(value: unknown): CheckResult[] {
  let parsed = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value);
    } catch {
      return [];
    }
  }
  return Array.isArray(parsed) ? parsed.filter(isCheck) : [];
}

/** The checks in a checkpoint hash (empty before the task's first check ran). */
export const checksInCheckpoint = (hash: Record<string, string>): CheckResult[] => checksOf(hash[CHECKS_FIELD]);
