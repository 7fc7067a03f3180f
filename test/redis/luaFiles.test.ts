import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import type { Redis } from 'ioredis';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { keyCountOf, LUA_DIR, LuaIncludeError, LuaKeysError, luaFile, readLua } from '../../src/redis/script.ts';

// The loader of src/redis/lua (no Redis needed): one script a file, each with
// its KEYS/ARGV header and its `numkeys`, shared parts in includes/ spliced in
// by `--@include`; every call's number of keys agrees with the header.
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

  it.each(scripts)('%s documents in its header as many KEYS as its numkeys line says, and reads no other', (file) => {
    const text = readFileSync(join(LUA_DIR, file), 'utf8');
    const count = keyCountOf(text, file);
    const lines = text.split('\n');
    const headerEnd = lines.findIndex((l) => !l.startsWith('--') || l.startsWith('--@include'));
    const header = lines.slice(0, headerEnd).filter((l) => !/numkeys:/.test(l));
    // Both styles: `KEYS[2] lock` and `KEYS: 1 result, 2 logs, …`.
    const documented = header.flatMap((l) => [
      ...[...l.matchAll(/KEYS\[(\d+)\]/g)].map((m) => Number(m[1])),
      ...(/^--\s*KEYS:/.test(l) ? [...l.replace(/^--\s*KEYS:/, '').matchAll(/(?:^|,)\s*(\d+)\s/g)].map((m) => Number(m[1])) : []),
    ]);
    // The fixed keys a batch script starts with, or every key of the others.
    const fixed = count.max ?? count.min;
    expect(Math.max(0, ...documented), `${file}: the highest KEYS its header documents`).toBe(fixed);
    const body = lines.slice(headerEnd).filter((l) => !l.startsWith('--')).join('\n');
    const read = [...body.matchAll(/KEYS\[(\d+)\]/g)].map((m) => Number(m[1]));
    expect(Math.max(0, ...read), `${file}: the highest literal KEYS[n] it reads`).toBeLessThanOrEqual(fixed);
  });

  it('reads the numkeys line: exact, a range, a batch', () => {
    const of = (line: string) => keyCountOf(`-- what it does\n-- numkeys: ${line}\n-- KEYS[1] x\nreturn 0\n`, 'x.lua');
    const accepted = (line: string) => [0, 1, 2, 3, 4, 5, 6, 7].filter((n) => of(line).accepts(n));
    expect(accepted('2')).toEqual([2]);
    expect(accepted('1-2')).toEqual([1, 2]);
    expect(accepted('3+2n')).toEqual([3, 5, 7]);
    expect(() => keyCountOf('-- what it does\n-- KEYS[1] x\nreturn 0\n', 'nohead.lua')).toThrow(/nohead\.lua: its header comment has no "-- numkeys: N" line/);
  });

  it('refuses a call with a number of keys its header does not allow, before anything is sent', async () => {
    writeFileSync(join(dir, 'two.lua'), '-- Two keys.\n-- numkeys: 2\n-- KEYS[1] a, KEYS[2] b\n-- ARGV none\n-- Reply: 0\nreturn 0\n');
    const script = luaFile('two', dir);
    // No connection: a refused call never reaches one.
    const nowhere = undefined as unknown as Redis;
    await expect(script.run(nowhere, 3, 'a', 'b', 'c')).rejects.toThrow(LuaKeysError);
    await expect(script.runBuffer(nowhere, 1, 'a')).rejects.toThrow(/two\.lua takes 2 keys \(its "-- numkeys" header line\), and was called with 1/);
  });

  it('finds every call with a written number of keys in src/ allowed by its script header', () => {
    const root = resolve(import.meta.dirname, '../..');
    const files = readdirSync(join(root, 'src'), { withFileTypes: true, recursive: true })
      .filter((e) => e.isFile() && e.name.endsWith('.ts'))
      .map((e) => join(e.parentPath, e.name));
    const calls: { where: string; script: string; numKeys: number }[] = [];
    for (const file of files) {
      const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
      // `const X = luaFile('name')` and `const G = { a: luaFile('name') }`: what `X` and `G.a` stand for.
      const bound = new Map<string, string>();
      const scriptOf = (e: ts.Expression | undefined) =>
        e && ts.isCallExpression(e) && e.expression.getText(source) === 'luaFile' && e.arguments[0] && ts.isStringLiteral(e.arguments[0]) ? e.arguments[0].text : undefined;
      const visit = (node: ts.Node): void => {
        if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name)) {
          const name = node.name.text;
          const script = scriptOf(node.initializer);
          if (script) bound.set(name, script);
          if (node.initializer && ts.isObjectLiteralExpression(node.initializer)) {
            for (const p of node.initializer.properties) {
              const s = ts.isPropertyAssignment(p) ? scriptOf(p.initializer) : undefined;
              if (s && p.name) bound.set(`${name}.${p.name.getText(source)}`, s);
            }
          }
        }
        if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression) && ['run', 'runBuffer'].includes(node.expression.name.text)) {
          const script = bound.get(node.expression.expression.getText(source));
          const numKeys = node.arguments[1];
          if (script && numKeys && ts.isNumericLiteral(numKeys)) {
            const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
            calls.push({ where: `${relative(root, file)}:${line}`, script, numKeys: Number(numKeys.text) });
          }
        }
        ts.forEachChild(node, visit);
      };
      visit(source);
    }
    // The calls passing a list's length (holds, recordClaims, the recovery scripts) are checked when they run (LuaKeysError).
    expect(calls.length).toBeGreaterThanOrEqual(10);
    const wrong = calls.filter((c) => !keyCountOf(readFileSync(join(LUA_DIR, `${c.script}.lua`), 'utf8'), c.script).accepts(c.numKeys));
    expect(wrong).toEqual([]);
  });

  it.each(readdirSync(join(LUA_DIR, 'includes')))('include %s starts with a comment saying what it defines', (file) => {
    expect(readFileSync(join(LUA_DIR, 'includes', file), 'utf8')).toMatch(/^-- \w+\(/);
  });
});
