import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import { OrchestratorError } from '../errors.ts';

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

/** Where the scripts live: one a file, `<name>.lua`, shared parts in `includes/`. */
export const LUA_DIR = fileURLToPath(new URL('./lua/', import.meta.url));

/** A line `--@include "name"` stands for the text of `includes/name.lua`. */
const INCLUDE = /^--@include\s+"([^"]+)"\s*$/;

/** A script or an include that cannot be read (missing): the message names the file. */
export class LuaIncludeError extends OrchestratorError {}

/**
 * A script's text with its includes expanded (recursively; each include at
 * most once per script, as a Lua `local function` need be defined once, so
 * a cycle ends there).
 * `file` names the script in errors; `read(name)` gives an include's text.
 */
export function expandIncludes(text: string, file: string, read: (name: string) => string, seen: Set<string> = new Set()): string {
  return text
    .split('\n')
    .map((line) => {
      const m = INCLUDE.exec(line.trim());
      if (!m) return line;
      const name = m[1]!;
      if (seen.has(name)) return '';
      seen.add(name);
      let body: string;
      try {
        body = read(name);
      } catch (error) {
        throw new LuaIncludeError(`${file}: cannot include "${name}" (includes/${name}.lua): ${(error as Error).message}`, { cause: error });
      }
      return expandIncludes(body.replace(/\n$/, ''), `includes/${name}.lua`, read, seen);
    })
    .join('\n');
}

/** Reads `lua/<name>.lua` and its includes from `dir`, expanded. */
export function readLua(name: string, dir: string = LUA_DIR): string {
  const file = `${name}.lua`;
  let text: string;
  try {
    text = readFileSync(join(dir, file), 'utf8');
  } catch (error) {
    throw new LuaIncludeError(`Lua script ${file} cannot be read from ${dir}: ${(error as Error).message}`, { cause: error });
  }
  return expandIncludes(text, file, (inc) => readFileSync(join(dir, 'includes', `${inc}.lua`), 'utf8'));
}

/**
 * How many keys a script takes, from its header line `-- numkeys: …`:
 * `2` exactly two, `1-2` one or two, `3+2n` three and then two per item
 * (a batch). Redis cannot tell a key from an argument: a wrong count shifts
 * every KEYS and ARGV the script reads, so it is checked before sending.
 */
export interface KeyCount {
  /** As written in the header. */
  readonly text: string;
  readonly min: number;
  /** Undefined for a batch (`N+Kn`). */
  readonly max: number | undefined;
  /** Keys per item of a batch. */
  readonly step: number | undefined;
  accepts(numKeys: number): boolean;
}

/** A script whose header says no `numkeys`, or a call with another number of keys: the message names the script and both. */
export class LuaKeysError extends OrchestratorError {}

const NUMKEYS = /^--\s*numkeys:\s*(\d+)(?:-(\d+)|\+(\d+)n)?\s*$/;

/** The `-- numkeys:` line of a script's header comment (the comment lines it starts with). */
export function keyCountOf(text: string, file: string): KeyCount {
  const header = text.split('\n').filter((_, i, lines) => lines.slice(0, i + 1).every((l) => l.startsWith('--') && !l.startsWith('--@include')));
  const match = header.map((l) => NUMKEYS.exec(l.trim())).find((m) => m !== null);
  if (!match) throw new LuaKeysError(`${file}: its header comment has no "-- numkeys: N" line (N, N-M or N+Kn) saying how many keys it takes`);
  const min = Number(match[1]);
  const max = match[2] !== undefined ? Number(match[2]) : match[3] === undefined ? min : undefined;
  const step = match[3] !== undefined ? Number(match[3]) : undefined;
  return {
    text: match[0].replace(/^--\s*numkeys:\s*/, '').trim(),
    min,
    max,
    step,
    accepts: (n) => Number.isInteger(n) && n >= min && (max === undefined || n <= max) && (step === undefined || (n - min) % step === 0),
  };
}

/**
 * The script in `src/redis/lua/<name>.lua` (its header documents KEYS, ARGV,
 * the reply and `numkeys`), run with EVALSHA as `luaScript` runs any. Read
 * once, when the calling module loads. A call with a number of keys the
 * header does not allow is refused before it is sent (LuaKeysError).
 *
 * @example
 * const RELEASE = luaFile('lockRelease');
 * await RELEASE.run(redis, 1, key, token);
 */
export function luaFile(name: string, dir: string = LUA_DIR) {
  const file = `${name}.lua`;
  const script = luaScript(readLua(name, dir));
  const keys = keyCountOf(script.lua, file);
  const checked =
    (run: typeof script.run) =>
    (redis: Redis, numKeys: number, ...args: Arg[]): Promise<unknown> =>
      keys.accepts(numKeys)
        ? run(redis, numKeys, ...args)
        : Promise.reject(new LuaKeysError(`${file} takes ${keys.text} keys (its "-- numkeys" header line), and was called with ${numKeys}: the call's keys or the header are wrong`));
  return { ...script, name, keys, run: checked(script.run), runBuffer: checked(script.runBuffer) };
}
