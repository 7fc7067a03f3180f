import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterEach, inject } from 'vitest';
import { keysFor, type Keys } from '../../src/protocol/keys.ts';

export const redisUrl = (): string => inject('redisUrl');

/** A fresh domain per test, so no two tests share a queue or registry set. */
export function freshDomain(): { domain: string; keys: Keys } {
  const domain = `t${randomUUID().slice(0, 12)}`;
  return { domain, keys: keysFor(domain) };
}

export function client(url = redisUrl()): Redis {
  return new Redis(url, { maxRetriesPerRequest: 3 });
}

/** Counts the commands of these names a connection sends from now on (read the count with the function returned). */
export function countCommands(redis: Redis, ...names: string[]): () => number {
  let count = 0;
  const send = redis.sendCommand.bind(redis);
  redis.sendCommand = ((command: Parameters<typeof send>[0]) => {
    if (names.includes(command.name)) count++;
    return send(command);
  }) as typeof redis.sendCommand;
  return () => count;
}

/** Polls until `check` returns a value other than undefined, or throws after `ms`. */
export async function eventually<T>(check: () => Promise<T | undefined>, ms = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * What a test opened (connections, servers, listeners), closed after each
 * test, last opened first; a close that fails does not stop the others.
 * Push a close function onto the list returned.
 */
export function cleanupsAfterEach(): (() => Promise<unknown>)[] {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  });
  return cleanups;
}
