import type { Redis } from 'ioredis';
import { OrchestratorError } from '../errors.ts';
import type { Keys } from '../protocol/keys.ts';
import { parseTaskMessage } from '../protocol/task.ts';
import { taskRefOf } from '../protocol/taskRef.ts';

/** How many of an ambiguous prefix's matches are named. */
const SHOWN = 10;

/** A prefix that begins more than one task id: the message names them and says to give more characters. */
export class AmbiguousTaskIdError extends OrchestratorError {
  constructor(
    readonly prefix: string,
    readonly matches: string[],
  ) {
    const shown = matches.slice(0, SHOWN);
    const more = matches.length > SHOWN ? `, and ${matches.length - SHOWN} more` : '';
    super(`task id ${prefix} is ambiguous: it begins ${matches.length} task ids (${shown.join(', ')}${more}); give more characters`);
  }
}

async function scanIds(redis: Redis, pattern: string, idOf: (key: string) => string | undefined, into: Set<string>): Promise<void> {
  let cursor = '0';
  do {
    // TYPE hash: result records and checkpoints, not the `results:{id}:logs` lists.
    const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000, 'TYPE', 'hash');
    cursor = next;
    for (const key of found) {
      const id = idOf(key);
      if (id !== undefined) into.add(id);
    }
  } while (cursor !== '0');
}

/**
 * The task id a person means by `prefix` (the 8 characters `demo`, `send`
 * and `watch` print, or any longer start), among what Redis holds: queued
 * and running messages, checkpoints and result records. An id Redis holds
 * exactly wins; one that begins with the prefix resolves; several throw
 * AmbiguousTaskIdError naming them. None: `prefix` itself, so the caller's
 * own "no task" message names what was typed.
 */
export async function resolveTaskId(redis: Redis, keys: Keys, prefix: string): Promise<string> {
  const [record, logs, checkpoint] = await Promise.all([redis.exists(keys.result(prefix)), redis.exists(keys.resultLogs(prefix)), redis.exists(keys.checkpoint(prefix))]);
  if (record + logs + checkpoint > 0) return prefix;
  const found = new Set<string>();
  const [pending, active] = await Promise.all([redis.lrangeBuffer(keys.pending, 0, -1), redis.lrangeBuffer(keys.active, 0, -1)]);
  for (const raw of [...pending, ...active]) {
    const id = taskRefOf(raw, parseTaskMessage(raw.toString('utf8'))).id;
    if (id?.startsWith(prefix)) found.add(id);
  }
  await scanIds(redis, keys.checkpointsStartingWith(prefix), keys.taskKeyOfCheckpoint, found);
  await scanIds(redis, keys.resultsStartingWith(prefix), keys.taskIdOfResult, found);
  if (found.has(prefix) || found.size === 0) return prefix;
  if (found.size === 1) return [...found][0]!;
  throw new AmbiguousTaskIdError(prefix, [...found].sort());
}
