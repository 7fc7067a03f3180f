import { createHash } from 'node:crypto';
import type { ParsedTask } from './task.ts';

/**
 * Who a claimed message is: built once, at the claim, from its bytes and
 * what they parsed to (taskRefOf), and carried whole from there (claim,
 * machines, progress, spans, publication), so no place has to choose between
 * two names of one task.
 *
 * A message usually has a task id, and then `key` is that id. A message no id
 * can be recovered from (not JSON and no `"task_id"` in its text, or a JSON
 * one without a usable id) still needs a name for its checkpoint: `key` is
 * then `raw-<sha1 of its bytes>`, and it has no `id`: it is dead-lettered,
 * and no `results:{id}` is written for it, since no producer waits on one.
 */
export interface TaskRef {
  /**
   * Names the task on our side: its checkpoint (`orch:{domain}:task:{key}`),
   * its prompts, its spans, and the listener's and the writers' maps. The
   * task id, or `raw-<sha1>` for a message without one.
   */
  readonly key: string;
  /**
   * The protocol's task id: names the task's `results:{id}` record, its
   * logs and its channel, and what peers and `cancel` call it. Absent for a
   * message none can be recovered from; equal to `key` whenever present.
   */
  readonly id: string | undefined;
}

/** A task with a protocol id: every message that parsed (workers run only for those). */
export type TaskRefWithId = TaskRef & { readonly id: string };

/** Names a claimed message; the hash is of the bytes, which for UTF-8 text equals the hash of the text. */
export function taskRefOf(raw: Buffer | string, parsed: ParsedTask): TaskRef {
  const id = parsed.ok ? parsed.task.task_id : parsed.taskId;
  return { key: id ?? `raw-${createHash('sha1').update(raw).digest('hex')}`, id };
}

export const hasId = (ref: TaskRef): ref is TaskRefWithId => ref.id !== undefined;

/**
 * How a task is named in a log line: `task_id`, as peers know it (and as
 * every task line carries it, docs/operations.md), or, for a message with no
 * id, `claim`: the key its checkpoint goes by, so its lines can still be
 * found.
 */
export const logFields = (ref: TaskRef): { task_id: string } | { claim: string } =>
  ref.id !== undefined ? { task_id: ref.id } : { claim: ref.key };
