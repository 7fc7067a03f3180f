import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Keys } from '../protocol/keys.ts';
import type { TaskMessage } from '../protocol/task.ts';

export interface NewTask {
  description: string;
  requirements?: string[];
  context?: Record<string, unknown>;
  priority?: 'low' | 'normal' | 'high';
  timeoutSeconds?: number;
  taskId?: string;
  source?: string;
}

/** A task message as the network's Python library writes it. */
export function buildTaskMessage(t: NewTask, domain: string): TaskMessage {
  return {
    task_id: t.taskId ?? randomUUID(),
    type: 'task_assignment',
    source: t.source ?? 'backend-orchestrator-cli',
    destination: domain,
    timestamp: new Date().toISOString().replace('Z', '+00:00'),
    payload: { description: t.description, requirements: t.requirements ?? [], context: t.context ?? {} },
    metadata: { priority: t.priority ?? 'normal', timeout_seconds: t.timeoutSeconds ?? 300 },
  };
}

/**
 * Enqueues a task the way the peers do: LPUSH the JSON, create the
 * `results:{id}` record with `pending`, then PUBLISH the wake-up.
 */
export async function sendTask(redis: Redis, keys: Keys, message: TaskMessage): Promise<string> {
  const json = JSON.stringify(message);
  await redis
    .multi()
    .lpush(keys.pending, json)
    .hset(keys.result(message.task_id), 'task_id', message.task_id, 'status', 'pending')
    .publish(keys.notifications, json)
    .exec();
  return message.task_id;
}
