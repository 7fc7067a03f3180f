import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildCli } from '../../src/cli/main.ts';
import { attributeName, configFromFlags, flagName, START_FLAGS, schemaDefault } from '../../src/cli/startFlags.ts';
import { ConfigSchema, loadConfig } from '../../src/config.ts';

const root = resolve(import.meta.dirname, '../..');
const read = (path: string) => readFileSync(resolve(root, path), 'utf8');

/** README's "Options of `start`" table: flag → default as written. */
function readmeDefaults(): Map<string, string> {
  const readme = read('README.md');
  const start = readme.indexOf('### Options of `start`');
  expect(start).toBeGreaterThan(-1);
  const out = new Map<string, string>();
  for (const line of readme.slice(start).split('\n').slice(1)) {
    if (line.startsWith('#')) break;
    const cells = line.split(/(?<!\\)\|/).map((c) => c.trim());
    if (cells.length < 4 || !cells[1]!.startsWith('`--')) continue;
    const flags = cells[1]!.split(' / ');
    const defaults = cells[2]!.split(' / ');
    flags.forEach((f, i) => {
      const name = /`(--[a-z-]+)/.exec(f)?.[1];
      if (name) out.set(name, (flags.length === defaults.length ? defaults[i]! : cells[2]!).replaceAll('`', '').replace(/^\.\//, ''));
    });
  }
  return out;
}

/** A README table under `heading`: each name of its first column (`a` / `b` split) → its default as written. */
function readmeTable(heading: string): Map<string, string> {
  const readme = read('README.md');
  const start = readme.indexOf(heading);
  expect(start, `README has no "${heading}"`).toBeGreaterThan(-1);
  const out = new Map<string, string>();
  for (const line of readme.slice(start).split('\n').slice(1)) {
    if (line.startsWith('#')) break;
    const cells = line.split(/(?<!\\)\|/).map((c) => c.trim());
    if (cells.length < 4 || !cells[1]!.startsWith('`')) continue;
    const names = cells[1]!.split(' / ');
    const defaults = cells[2]!.split(' / ');
    names.forEach((n, i) => {
      const name = /`([^`\s]+)/.exec(n)?.[1];
      if (name) out.set(name, (names.length === defaults.length ? defaults[i]! : cells[2]!).replaceAll('`', ''));
    });
  }
  return out;
}

/** How the README writes a schema default: `off` for false, `none` for absent or empty, else the value. */
const written = (value: unknown): string | undefined =>
  value === false ? 'off' : value === undefined || (typeof value === 'object' && value !== null && Object.keys(value).length === 0) ? 'none' : typeof value === 'object' ? undefined : String(value);

describe('the flag table, the schema, commander and the README agree', () => {
  const start = buildCli().commands.find((c) => c.name() === 'start')!;

  it('every commander option of start comes from the table and sets a schema option', () => {
    const shape = Object.keys(ConfigSchema.shape);
    const table = new Map(START_FLAGS.map((s) => [flagName(s), s]));
    // --version is commander's, as --help is: it prints and exits, it sets nothing.
    const globals = buildCli().options.filter((o) => o.long !== '--version');
    for (const option of [...start.options, ...globals]) {
      const spec = table.get(option.long!);
      expect(spec, `${option.long} is declared outside the flag table`).toBeDefined();
      if (option.long === '--inspect' || option.long === '--config') continue; // not options of the config: what to attach, where to read options
      expect(shape, `${option.long} sets ${spec!.key}`).toContain(spec!.key);
      expect(option.attributeName()).toBe(attributeName(spec!));
    }
    expect(start.options.length + 2).toBe(START_FLAGS.length);
  });

  it('each flag reaches its schema option', () => {
    for (const spec of START_FLAGS.filter((s) => s.key)) {
      expect(Object.keys(configFromFlags({ [attributeName(spec)]: spec.parse === 'list' ? ['x'] : 'x' }))).toEqual([spec.key]);
    }
  });

  it('every flag is in the README table of start (globals in its sentence), with the schema default', () => {
    const readme = readmeDefaults();
    expect(readme.size).toBeGreaterThan(30);
    for (const spec of START_FLAGS.filter((s) => s.key && s.key !== 'agentId')) {
      const name = flagName(spec);
      if (spec.global) {
        expect(read('README.md')).toContain(`\`${name} <`);
        continue;
      }
      expect(readme.has(name), `${name} is missing from README's "Options of \`start\`"`).toBe(true);
      const value = schemaDefault(spec.key!);
      if (value === undefined || typeof value === 'object' || spec.showDefault === false) continue;
      const written = readme.get(name)!;
      if (value === false) expect(written, name).toBe('off');
      else expect(written, name).toBe(String(value));
    }
  });

  it('the README lists no flag of start the table does not have, and --agent-id and --inspect too', () => {
    const table = new Set(START_FLAGS.map(flagName));
    const readme = readmeTable('### Options of `start`');
    expect([...readme.keys()].filter((name) => !table.has(name))).toEqual([]);
    expect(readme.has('--agent-id')).toBe(true);
    expect(readme.get('--inspect')).toBe('off');
  });

  it('the README states the global flags and the console flags with the schema defaults', () => {
    const readme = read('README.md').replace(/\s+/g, ' ');
    expect(readme).toContain(`\`--redis <url>\` (env \`REDIS_URL\`, default \`${String(schemaDefault('redisUrl'))}\`)`);
    expect(readme).toContain(`\`--domain <name>\` (default \`${String(schemaDefault('domain'))}\`)`);
    expect(readme).toContain(`\`--port ${String(schemaDefault('consolePort'))}\``);
    expect(readme).toContain(`\`--host ${String(schemaDefault('consoleHost'))}\``);
  });

  it('every option without a flag is in the README table of them, with the schema default, and the table names only options', () => {
    const flagged = new Set(START_FLAGS.flatMap((s) => (s.key ? [s.key] : [])));
    // Set by other means the README names: the console's own flags, the OpenTelemetry and ORCH_SCRIPTED_* variables.
    const elsewhere = ['consolePort', 'consoleHost', 'consoleToken', 'tracing', 'scripted'];
    // The anthropic options a person sets one by one (the key and base URL come from the environment).
    const anthropic = schemaDefault('anthropic') as Record<string, unknown>;
    const options = new Map<string, unknown>([
      ...Object.keys(ConfigSchema.shape)
        .filter((key) => !flagged.has(key as never) && !elsewhere.includes(key) && key !== 'anthropic')
        .map((key) => [key, schemaDefault(key as never)] as const),
      ...Object.entries(anthropic).map(([key, value]) => [`anthropic.${key}`, value] as const),
    ]);
    const table = readmeTable('### Options without a flag');
    expect([...table.keys()].filter((name) => !options.has(name)), 'rows naming no option').toEqual([]);
    for (const [name, value] of options) {
      expect(table.has(name), `${name} is missing from README's "Options without a flag"`).toBe(true);
      const expected = written(value);
      if (expected !== undefined) expect(table.get(name), name).toBe(expected);
    }
    const readme = read('README.md');
    for (const key of elsewhere) expect(readme, key).toContain(`\`${key}\``);
  });

  it('the help states the schema defaults and no default is written outside the schema', () => {
    const help = start.helpInformation().replace(/\s+/g, ' ');
    for (const key of ['inspectPort', 'heartbeatIntervalMs', 'resultGraceMs', 'breakerCooldownMs', 'bashTmpBytes', 'boxUid'] as const) {
      expect(help).toContain(`(default ${String(schemaDefault(key))})`);
    }
    for (const file of ['src/cli/main.ts', 'src/cli/startFlags.ts', 'src/cli/start.ts']) {
      const source = read(file);
      for (const literal of [/\b604_?800\b/, /\b8787\b/, /\b8788\b/, /\b10_?000\b/, /\b2_?000\b/, /\b30_?000\b/, /\b268435456\b/, /\b64923\b/, /'backend'/]) {
        expect(source, `${file} repeats a default (${literal})`).not.toMatch(literal);
      }
    }
  });

  it('modules that fall back on an option default take it from src/optionDefaults.ts, as the schema does', () => {
    const fallbacks: Record<string, RegExp> = {
      'src/runtime/actors/publish.ts': /\b604_?800\b/,
      'src/observability/inspector.ts': /=\s*8787\b/,
      'src/workers/tools/search.ts': /=\s*10_?000\b/,
      'src/config.ts': /\.default\((604_?800|8787|8788|10_?000|2_?000|'backend')\)/,
    };
    for (const [file, literal] of Object.entries(fallbacks)) expect(read(file), file).not.toMatch(literal);
  });

  it('a default start equals the schema defaults', () => {
    const fromCli = loadConfig({ model: 'scripted', ...configFromFlags({ domain: schemaDefault('domain') }) }, {});
    const plain = loadConfig({ model: 'scripted' }, {});
    expect(fromCli).toEqual(plain);
  });
});
