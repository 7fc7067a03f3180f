import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { ListenerActor } from './parts/listener.ts';
import type { ResourceStack } from './resources.ts';

export type StopResult = { clean: true } | { clean: false; reason: string };

/**
 * The listener's stop: its stack closed, last part first (the listener itself,
 * so tasks in flight finish before what they use is closed). With Redis
 * away, every command (a claim, a handoff, even QUIT behind them) waits in
 * ioredis's offline queue for as long as it stays away, so a stop is raced
 * against a deadline, and past it the stack is dropped. Giving up loses nothing: the checkpoints stay,
 * and another instance takes the tasks over once this one's heartbeat expires.
 */
export function boundedStop(
  config: Config,
  deps: { logger: Logger; actor: ListenerActor; stack: ResourceStack },
): { stop(): Promise<StopResult>; abandon(reason: string): void } {
  const { logger, actor, stack } = deps;
  let cutShort: (reason: string) => void = () => undefined;
  const cutOff = new Promise<string>((resolve) => (cutShort = resolve));
  let stopping: Promise<StopResult> | undefined;
  const stop = () =>
    (stopping ??= (async (): Promise<StopResult> => {
      const limitMs = config.shutdownGraceMs + Math.ceil(config.claimTimeoutSeconds * 1000) + config.shutdownMarginMs;
      const timer = setTimeout(() => cutShort(`the deadline (${limitMs} ms after the stop began)`), limitMs);
      // The listener first (STOP: no new claims, the tasks in flight finish), then what it used.
      const reason = await Promise.race([stack.close().then(() => undefined), cutOff]);
      clearTimeout(timer);
      if (reason === undefined) {
        logger.info('stopped');
        return { clean: true };
      }
      const left = Object.values(actor.getSnapshot().context.tasks).map((t) => t.key);
      logger.error(
        { reason, tasks_left: left },
        `shutdown cut short by ${reason}: checkpoints left as they are for another instance to take over`,
      );
      void stack.drop();
      return { clean: false, reason };
    })());
  const abandon = (reason: string): void => {
    cutShort(reason);
    void stop();
  };
  return { stop, abandon };
}
