import type { Config } from '../../config.ts';
import type { Logger } from '../../logger.ts';
import { ControlMessageSchema } from '../../protocol/control.ts';
import type { Keys } from '../../protocol/keys.ts';
import type { ResourceStack } from '../resources.ts';
import type { ListenerActor } from './listener.ts';
import type { Connections } from './redis.ts';

/**
 * Cancels reach whichever instance holds the task through the control
 * channel: subscribed here, each valid message sent to the listener as
 * CANCEL_TASK.
 */
export async function openControl(
  config: Config,
  deps: { connections: Connections; actor: ListenerActor; keys: Keys; logger: Logger },
  stack: ResourceStack,
): Promise<void> {
  const { actor, logger } = deps;
  const control = deps.connections.open('control');
  control.on('message', (_channel: string, text: string) => {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    const parsed = ControlMessageSchema.safeParse(json);
    if (!parsed.success) {
      logger.warn({ message: text.slice(0, 500) }, 'ignored a malformed control message');
      return;
    }
    actor.send({ type: 'CANCEL_TASK', taskId: parsed.data.task_id, reason: parsed.data.reason });
  });
  await control.subscribe(deps.keys.control);
}
