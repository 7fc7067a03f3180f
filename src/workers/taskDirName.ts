import { createHash } from 'node:crypto';

/** Ids kept as they are: lower-case, no `~`, not `.`-led, short. UUIDs and the usual slugs fall here. */
const PLAIN = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/**
 * The folder name of a task's workspace under the workspace root: one
 * folder per task id, and no two ids share one. An id that is already a
 * plain lower-case name (a UUID) is used as is; any other id becomes a
 * readable slug, `~`, and 16 hex digits of the SHA-256 of the exact id. A
 * plain name never contains `~`, so the two forms cannot meet, and ids that
 * differ only in case or in characters a folder name cannot hold (`a/b`,
 * `a_b`, `a?b`, `A`) get different hashes. Case-insensitive file systems
 * are safe too: only lower case is kept verbatim.
 *
 * @example
 * taskDirName('4f1c2d3e-0000-4000-8000-000000000001') // the id itself
 * taskDirName('a/b') // 'a-b~…'
 */
export function taskDirName(taskId: string): string {
  if (PLAIN.test(taskId)) return taskId;
  const slug = taskId
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[.-]+/, '')
    .slice(0, 40);
  const hash = createHash('sha256').update(taskId, 'utf8').digest('hex').slice(0, 16);
  return `${slug || 'task'}~${hash}`;
}
