import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LUA_DIR, LuaIncludeError, luaFile, readLua } from '../../src/redis/script.ts';

// The loader of src/redis/lua (no Redis needed): one script a file, each with
// its KEYS/ARGV header, shared parts in includes/ spliced in by `--@include`.
describe('Lua script files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lua-'));
  mkdirSync(join(dir, 'includes'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('expands includes (nested, each once) in place of the directive line', () => {
    writeFileSync(join(dir, 'includes', 'inner.lua'), 'local function inner() return 1 end\n');
    writeFileSync(join(dir, 'includes', 'outer.lua'), '--@include "inner"\nlocal function outer() return inner() end\n');
    writeFileSync(join(dir, 'main.lua'), '-- KEYS: none\n--@include "outer"\n--@include "inner"\nreturn outer()\n');
    expect(readLua('main', dir)).toBe('-- KEYS: none\nlocal function inner() return 1 end\nlocal function outer() return inner() end\n\nreturn outer()\n');
  });

  it('names the script and the include when an include is missing', () => {
    writeFileSync(join(dir, 'broken.lua'), '-- KEYS: none\n--@include "nowhere"\nreturn 0\n');
    expect(() => readLua('broken', dir)).toThrow(LuaIncludeError);
    expect(() => readLua('broken', dir)).toThrow(/broken\.lua: cannot include "nowhere" \(includes\/nowhere\.lua\)/);
  });

  it('names the file when a script is missing', () => {
    expect(() => luaFile('noSuchScript')).toThrow(/Lua script noSuchScript\.lua cannot be read/);
  });

  const scripts = readdirSync(LUA_DIR).filter((f) => f.endsWith('.lua'));

  it('has the scripts', () => {
    expect(scripts.length).toBeGreaterThanOrEqual(16);
  });

  it.each(scripts)('%s starts with a header comment documenting KEYS, ARGV and the reply', (file) => {
    const text = readFileSync(join(LUA_DIR, file), 'utf8');
    const header = text.split('\n').filter((_, i, lines) => lines.slice(0, i + 1).every((l) => l.startsWith('--') && !l.startsWith('--@include')));
    expect(header.length, `${file} has no header comment`).toBeGreaterThan(0);
    const doc = header.join('\n');
    expect(doc, file).toMatch(/KEYS/);
    expect(doc, file).toMatch(/ARGV/);
    expect(doc, file).toMatch(/Reply/);
  });

  it.each(scripts)('%s loads with every include expanded', (file) => {
    const lua = readLua(file.replace(/\.lua$/, ''));
    expect(lua).not.toMatch(/^--@include/m);
  });

  it.each(readdirSync(join(LUA_DIR, 'includes')))('include %s starts with a comment saying what it defines', (file) => {
    expect(readFileSync(join(LUA_DIR, 'includes', file), 'utf8')).toMatch(/^-- \w+\(/);
  });
});
