import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

type Arg = string | Buffer | number;
type Runner = Record<string, (numKeys: number, ...args: Arg[]) => Promise<unknown>>;

/** Every script made here, by command name. */
const scripts = new Map<string, string>();

/**
 * Defines every script on a new connection, before its first command.
 * Needed with auto-pipelining: a script defined while an auto-pipeline is
 * being filled is missing from that pipeline, and ioredis (6.0) then
 * misaligns the replies of the whole batch (redis/ioredis#1931, fixed by #2180).
 */
export function defineScripts(redis: Redis): void {
  const r = redis as unknown as Runner;
  for (const [name, lua] of scripts) if (typeof r[name] !== 'function') redis.defineCommand(name, { lua });
}

/**
 * A Lua script run with EVALSHA: ioredis defines it on the connection and
 * sends its text only when Redis answers NOSCRIPT, so a call carries its
 * keys and arguments, not the script, and Redis need not hash the text each
 * time. Same keys, same atomicity and same ACL category (`@scripting`) as EVAL.
 * Make scripts at module level: `connectRedis` defines them all on each new
 * connection (see defineScripts); others get them on first use.
 *
 * @example
 * const PING = luaScript("return redis.call('PING')");
 * await PING.run(redis, 0);
 */
export function luaScript(lua: string) {
  const sha = createHash('sha1').update(lua).digest('hex');
  const name = `orch_${sha.slice(0, 16)}`;
  scripts.set(name, lua);
  const on = (redis: Redis): Runner => {
    const r = redis as unknown as Runner;
    if (typeof r[name] !== 'function') redis.defineCommand(name, { lua });
    return r;
  };
  return {
    /** What EVALSHA names it by (a fault proxy in the tests picks a script's calls out by it). */
    sha,
    lua,
    run: (redis: Redis, numKeys: number, ...args: Arg[]): Promise<unknown> => on(redis)[name]!(numKeys, ...args),
    /** The same, with Buffer replies (the exact bytes of list items). */
    runBuffer: (redis: Redis, numKeys: number, ...args: Arg[]): Promise<unknown> => on(redis)[`${name}Buffer`]!(numKeys, ...args),
  };
}
