import { TaskMessageSchema, type TaskMessage } from '../../src/protocol/task.ts';

/** A task as the protocol parses it, with only what a test cares about. */
export function makeTask(description: string, requirements: string[] = [], context: Record<string, unknown> = {}): TaskMessage {
  return TaskMessageSchema.parse({
    task_id: 'task-1',
    type: 'task_assignment',
    payload: { description, requirements, context },
  });
}
