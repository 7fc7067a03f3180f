import { createHash } from 'node:crypto';

/** Ids kept as they are: lower-case words joined by single `-` or `_`, short. UUIDs and the usual slugs fall here. */
const PLAIN = /^[a-z0-9]+(?:[-_][a-z0-9]+)*$/;
const PLAIN_MAX = 64;

/**
 * The name of a task's folder (under the workspace root, or its worktree)
 * and of its branch (`<domain>/<name>`): one per task id, and no two ids
 * share one. An id that is already a plain lower-case name (a UUID) is used
 * as is; any other id becomes a readable slug, `.`, and 16 hex digits of the
 * SHA-256 of the exact id. A plain name never contains `.`, so the two forms
 * cannot meet, and ids that differ only in case or in characters a folder
 * name cannot hold (`a/b`, `a_b`, `a?b`, `A`) get different hashes. Both forms
 * are valid folder names on case-insensitive file systems and valid git ref
 * components (no `..`, `~`, `^`, `:`, `@{`, no leading `.` or `-`, no
 * `.lock` ending).
 *
 * @example
 * taskDirName('4f1c2d3e-0000-4000-8000-000000000001') // the id itself
 * taskDirName('a/b') // 'a-b.…'
 */
export function taskDirName(taskId: string): string {
  if (taskId.length <= PLAIN_MAX && PLAIN.test(taskId)) return taskId;
  const slug = taskId
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, 40)
    .replace(/^-+|-+$/g, '');
  const hash = createHash('sha256').update(taskId, 'utf8').digest('hex').slice(0, 16);
  return `${slug || 'task'}.${hash}`;
}
