import { z } from 'zod';

/**
 * A message on `orch:{domain}:control`: every listener of the domain
 * subscribes; the one holding the task acts on it.
 */
export const ControlMessageSchema = z.object({
  type: z.literal('cancel'),
  task_id: z.string().min(1),
  reason: z.string().min(1).default('cancelled'),
});
export type ControlMessage = z.infer<typeof ControlMessageSchema>;
