import { createHash } from 'node:crypto';

/**
 * A folder and branch name for a task id that no other task id can produce:
 * a readable slug of the id (safe alphabet, at most 40 characters, never
 * starting with a dot or a dash) and the first 12 hex digits of the id's
 * sha256. Two ids that slug alike (`a/b` and `a_b`) still differ by their
 * hash. The result is also a valid git ref component.
 *
 * @example
 * taskDirName('7f1c…'); // '7f1c…-3a9e0c1b2d4f'
 */
export function taskDirName(taskId: string): string {
  const slug = taskId
    .replace(/[^A-Za-z0-9_-]/g, '_')
    .replace(/^[-_]+/, '')
    .slice(0, 40)
    .replace(/[-_]+$/, '');
  const hash = createHash('sha256').update(taskId, 'utf8').digest('hex').slice(0, 12);
  return slug ? `${slug}-${hash}` : `task-${hash}`;
}
