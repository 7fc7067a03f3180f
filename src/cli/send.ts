import { z } from 'zod';
import { buildTaskMessage, sendTask } from '../client/send.ts';
import { waitForResult } from '../client/wait.ts';
import { UsageError } from '../errors.ts';
import { withClient, type ClientFlags } from './client.ts';

export interface SendOptions extends ClientFlags {
  requirement: string[];
  context?: string;
  priority: string;
  timeout: number;
  wait?: boolean;
}

const Priority = z.enum(['low', 'normal', 'high']);

function parseContext(text: string | undefined): Record<string, unknown> {
  if (text === undefined) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--context: not valid JSON (${(error as Error).message}); pass an object such as '{"project_type":"node-express"}'`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new UsageError('--context: must be a JSON object');
  return value as Record<string, unknown>;
}

export async function runSend(description: string, o: SendOptions): Promise<void> {
  // A listener would only dead-letter it: refused before anything is queued.
  if (description.trim() === '') {
    throw new UsageError('the task description is empty: say what the task asks for, e.g. send "Create user registration endpoint"');
  }
  const priority = Priority.safeParse(o.priority);
  if (!priority.success) throw new UsageError(`--priority: must be low, normal or high, got "${o.priority}"`);
  if (o.timeout <= 0) throw new UsageError('--timeout: must be greater than 0');
  const context = parseContext(o.context);
  await withClient(o, 'send', async ({ config, keys, redis }) => {
    const message = buildTaskMessage(
      { description, requirements: o.requirement, context, priority: priority.data, timeoutSeconds: o.timeout },
      config.domain,
    );
    await sendTask(redis, keys, message);
    if (!o.wait) {
      process.stdout.write(`${message.task_id}\n`);
      return;
    }
    process.stderr.write(`task ${message.task_id} sent to ${keys.pending}; waiting (up to ${o.timeout + 10}s)\n`);
    const record = await waitForResult(redis, keys, message.task_id, {
      timeoutMs: (o.timeout + 10) * 1000,
      onLog: (line) => process.stderr.write(`  ${line}\n`),
    });
    if (!record) {
      process.stderr.write(`no result for ${message.task_id} within ${o.timeout + 10}s: is a listener running on ${keys.pending}?\n`);
      process.exitCode = 3;
      return;
    }
    const output: unknown = record.output ? JSON.parse(record.output) : null;
    process.stdout.write(`${JSON.stringify(output ?? record, null, 2)}\n`);
    if (record.status !== 'completed') {
      process.stderr.write(`task ${record.outcome ?? record.status}: ${record.error ?? 'no reason given'}\n`);
      process.exitCode = 1;
    }
  });
}
