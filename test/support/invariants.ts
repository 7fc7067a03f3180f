import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { buildTaskMessage, sendTask } from '../../src/client/send.ts';
import type { Keys } from '../../src/protocol/keys.ts';
import { client, eventually } from './redis.ts';

/** Counts result publications per task on the peers' channels (`results:{id}`). */
export async function countPublications(url?: string) {
  const sub = client(url);
  const counts = new Map<string, number>();
  await sub.psubscribe('results:*');
  sub.on('pmessage', (_p, channel: string) => {
    const id = channel.slice('results:'.length);
    counts.set(id, (counts.get(id) ?? 0) + 1);
  });
  return { counts, close: () => sub.quit() };
}

export async function sendTasks(redis: Redis, keys: Keys, domain: string, n: number, description = 'Create a REST API for blog posts with authentication') {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const m = buildTaskMessage({ description, taskId: randomUUID() }, domain);
    await sendTask(redis, keys, m);
    ids.push(m.task_id);
  }
  return ids;
}

/** Waits until every task has a final status (completed or failed); returns them in order. */
export async function allFinal(redis: Redis, ids: string[], ms: number): Promise<string[]> {
  return eventually(
    async () => {
      const statuses = await Promise.all(ids.map((id) => redis.hget(`results:${id}`, 'status')));
      return statuses.every((s) => s === 'completed' || s === 'failed') ? (statuses as string[]) : undefined;
    },
    ms,
    'every task to have a final result',
  );
}

/**
 * The delivery invariants, checked once everything settled: one terminal
 * result per task, published once, with one "result published" line and no
 * line after it; nothing left in tasks:active or in progress; no
 * checkpoint left. Returns the violations (empty: all hold).
 */
export async function deliveryViolations(redis: Redis, keys: Keys, ids: string[], publications: Map<string, number>): Promise<string[]> {
  const v: string[] = [];
  for (const id of ids) {
    const status = await redis.hget(keys.result(id), 'status');
    if (status !== 'completed' && status !== 'failed') v.push(`${id}: status ${status} (not terminal)`);
    const n = publications.get(id) ?? 0;
    if (n !== 1) v.push(`${id}: published ${n} times`);
    const logs = await redis.lrange(keys.resultLogs(id), 0, -1);
    const at = logs.findIndex((l) => l.includes('] result published'));
    const published = logs.filter((l) => l.includes('] result published')).length;
    if (published !== 1) v.push(`${id}: ${published} "result published" lines`);
    if (at !== -1 && at < logs.length - 1) v.push(`${id}: lines after "result published": ${JSON.stringify(logs.slice(at + 1))}`);
    if (await redis.exists(keys.checkpoint(id))) v.push(`${id}: checkpoint left behind`);
  }
  const active = await redis.llen(keys.active);
  if (active !== 0) v.push(`tasks:active holds ${active}`);
  return v;
}

/** The task ids whose log says `agentId` took them over. */
export async function takenOverBy(redis: Redis, keys: Keys, ids: string[], agentId: string): Promise<string[]> {
  const out: string[] = [];
  for (const id of ids) if ((await redis.lrange(keys.resultLogs(id), 0, -1)).some((l) => l.includes(`taken over by ${agentId}`))) out.push(id);
  return out;
}

/** Task ids of the "result published" log lines of a listener's output. */
export function publishedIn(output: string): string[] {
  return output
    .split('\n')
    .filter((l) => l.includes('"msg":"result published"'))
    .map((l) => (JSON.parse(l) as { task_id: string }).task_id);
}

/** Worker runs (from an ORCH_SCRIPTED_RUN_LOG file) that started again after the same worker of the same task had finished. */
export function rerunsAfterDone(path: string): string[] {
  if (!existsSync(path)) return [];
  const done = new Set<string>();
  const reruns: string[] = [];
  for (const [what, task, worker] of readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => l.split(' '))) {
    if (what === 'start' && done.has(`${task} ${worker}`)) reruns.push(`${task} ${worker}`);
    if (what === 'done') done.add(`${task} ${worker}`);
  }
  return reruns;
}
