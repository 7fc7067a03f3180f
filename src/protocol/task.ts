import { z } from 'zod';

/**
 * The task message as the peers put it on `tasks:pending:{domain}`
 * (../shared/PROTOCOL.md). Unknown fields are tolerated; `requirements`,
 * `context` and `metadata` may be missing.
 */
export const TaskMessageSchema = z.looseObject({
  task_id: z.string().min(1).max(200),
  type: z.string().optional(),
  source: z.string().optional(),
  destination: z.string().optional(),
  timestamp: z.string().optional(),
  payload: z.looseObject({
    description: z.string().trim().min(1, 'payload.description must not be empty').max(20_000),
    requirements: z.array(z.string().max(20_000)).max(200).default([]),
    context: z.record(z.string(), z.unknown()).default({}),
  }),
  metadata: z
    .looseObject({
      priority: z.enum(['low', 'normal', 'high']).default('normal'),
      timeout_seconds: z.number().positive().max(7 * 24 * 3600).default(300),
      /** Dollars the task may spend on model calls (ours, not in PROTOCOL.md; peers that do not know it leave it out). */
      budget_usd: z.number().positive().max(1_000_000).optional(),
    })
    .default({ priority: 'normal', timeout_seconds: 300 }),
});

export type TaskMessage = z.infer<typeof TaskMessageSchema>;

export type ParsedTask =
  | { ok: true; task: TaskMessage }
  | { ok: false; taskId: string | undefined; reason: string };

const TASK_ID_IN_TEXT = /"task_id"\s*:\s*"([^"\\]{1,200})"/;

/**
 * Parses the raw text claimed from the queue. Never throws: input that is not
 * a task yields a reason a person can act on, and the task id when one can be
 * recovered (also from text that is not valid JSON, such as the shell CLI's
 * unescaped quotes), so the sender's wait can be ended with a `failed` result.
 */
export function parseTaskMessage(raw: string): ParsedTask {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (error) {
    return {
      ok: false,
      taskId: TASK_ID_IN_TEXT.exec(raw)?.[1],
      reason: `task message is not valid JSON (${(error as Error).message}); a producer probably interpolated unescaped text`,
    };
  }
  const result = TaskMessageSchema.safeParse(json);
  if (result.success) return { ok: true, task: result.data };
  const id = (json as { task_id?: unknown } | null)?.task_id;
  return {
    ok: false,
    taskId: typeof id === 'string' && id.length > 0 && id.length <= 200 ? id : undefined,
    reason: `task message does not match the protocol: ${z.prettifyError(result.error).replaceAll('\n', '; ')}`,
  };
}
