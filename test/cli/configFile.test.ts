import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, readConfigFile } from '../../src/config.ts';
import { FLAG_OF_OPTION, configFromFlags } from '../../src/cli/startFlags.ts';
import { runCli } from '../support/cli.ts';
import { freshDomain, redisUrl } from '../support/redis.ts';

// `start --config <file>` through the real CLI: the file is checked by the options' own
// schema, a bad key or value is named with the file and its path, flags win over it.

const dir = mkdtempSync(join(tmpdir(), 'orch-config-file-'));
const file = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, ...extra });
const BIN = resolve(import.meta.dirname, '../../bin/backend-orchestrator.mjs');

describe('start --config <file>', { timeout: 120_000 }, () => {
  it('a key that is no option: exit 2, naming the file and the path', async () => {
    const bad = file('typo.yaml', 'anthropic:\n  modles:\n    sonnet: claude-sonnet-4-6\n');
    const { status, stderr } = await runCli(['start', '--model', 'scripted', '--config', bad], env(), dir);
    expect(status).toBe(2);
    expect(stderr).toContain(`${bad}: anthropic.modles: not an option here`);
    expect(stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('a bad value: exit 2, naming the file and the path (anthropic.models.sonnet), as the schema says it', async () => {
    const bad = file('value.json', JSON.stringify({ anthropic: { models: { sonnet: 42 } }, prices: { 'claude-next-1': { input: -1, output: 1, cache_write: 1, cache_read: 1 } } }));
    const { status, stderr } = await runCli(['start', '--model', 'scripted', '--config', bad], env(), dir);
    expect(status).toBe(2);
    expect(stderr).toMatch(new RegExp(`${bad.replace(/[.]/g, '\\.')}: anthropic\\.models\\.sonnet: `));
    expect(stderr).toMatch(new RegExp(`${bad.replace(/[.]/g, '\\.')}: prices\\.claude-next-1\\.input: `));
  });

  it('a file that cannot be read or parsed: exit 2 naming it', async () => {
    const missing = await runCli(['start', '--model', 'scripted', '--config', join(dir, 'nope.yaml')], env(), dir);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain(`--config ${join(dir, 'nope.yaml')}: cannot read it (ENOENT)`);
    const broken = file('broken.yaml', 'anthropic: [unclosed\n');
    const parsed = await runCli(['start', '--model', 'scripted', '--config', broken], env(), dir);
    expect(parsed.status).toBe(2);
    expect(parsed.stderr).toContain(`${broken}: not valid YAML or JSON`);
  });

  it('a budget with a model that has no price: refused at start, saying to give the price in the file', async () => {
    const next = file('next.yaml', 'anthropic:\n  models:\n    sonnet: claude-next-1\n');
    const { status, stderr } = await runCli(['start', '--config', next, '--task-budget-usd', '2'], env({ ANTHROPIC_API_KEY: 'sk-test' }), dir);
    expect(status).toBe(2);
    expect(stderr).toContain('no price for model "claude-next-1", and a budget is set (--task-budget-usd)');
    expect(stderr).toMatch(/prices: \{ claude-next-1: \{ input, output, cache_write, cache_read \} \}/);
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it('a model without a price starts, with one warning naming it (and one that the catalog does not know it)', async () => {
    const next = file('start.yaml', 'anthropic:\n  models:\n    sonnet: claude-next-1\n');
    const { domain } = freshDomain();
    const child = spawn(process.execPath, [BIN, 'start', '--config', next, '--redis', redisUrl(), '--domain', domain, '--workspace', join(dir, 'ws'), '--claim-timeout', '0.1'], {
      env: env({ ANTHROPIC_API_KEY: 'sk-test', ANTHROPIC_BASE_URL: 'http://127.0.0.1:9' }),
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((r) => child.on('close', r));
    await expect.poll(() => out, { timeout: 30_000 }).toMatch(/listening/);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const warnings = out.split('\n').filter((l) => l.includes('no price for model claude-next-1'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/cost is reported as unknown/);
    // Not in the catalog either: its requests use only what every model accepts.
    expect(out.split('\n').filter((l) => l.includes('model claude-next-1 is not in the catalog'))).toHaveLength(1);
  });
});

describe('the config file and the flags (loadConfig)', () => {
  it('flags and the environment win over the file; --model-id adds to its aliases', () => {
    const path = file('both.yaml', 'concurrency: 2\nredisUrl: redis://file:6379\nanthropic:\n  effort: low\n  models:\n    sonnet: claude-sonnet-4-6\n    fast: claude-haiku-5-5\n');
    const flags = configFromFlags({ concurrency: 5, modelId: { sonnet: 'claude-opus-4-6' }, effort: 'max' });
    const config = loadConfig({ model: 'scripted', ...flags }, { REDIS_URL: 'redis://env:6379' }, FLAG_OF_OPTION, readConfigFile(path));
    expect(config.concurrency).toBe(5);
    expect(config.redisUrl).toBe('redis://env:6379');
    expect(config.anthropic.effort).toBe('max');
    expect(config.anthropic.models).toEqual({ sonnet: 'claude-opus-4-6', fast: 'claude-haiku-5-5' });
  });

  it('names a bad flag value by its flag, a bad file value by the file', () => {
    expect(() => loadConfig({ model: 'scripted', ...configFromFlags({ effort: 'extreme' }) }, {}, FLAG_OF_OPTION)).toThrow(/\n {2}--effort: /);
    const path = file('effort.yaml', 'anthropic:\n  effort: extreme\n');
    expect(() => loadConfig({ model: 'scripted' }, {}, FLAG_OF_OPTION, readConfigFile(path))).toThrow(new RegExp(`${path.replace(/[.]/g, '\\.')}: anthropic\\.effort: `));
  });
});

describe('--model-id <alias=id>', () => {
  it('collects alias=id pairs, and names itself when one has no =', async () => {
    const { buildCli } = await import('../../src/cli/main.ts');
    const option = buildCli().commands.find((c) => c.name() === 'start')!.options.find((o) => o.long === '--model-id')!;
    expect(option.parseArg!('Sonnet=claude-next-1', { fast: 'claude-haiku-5-5' })).toEqual({ fast: 'claude-haiku-5-5', sonnet: 'claude-next-1' });
    expect(() => option.parseArg!('sonnet', undefined)).toThrow(/^--model-id: must be <alias>=<model id>, e\.g\. sonnet=claude-sonnet-4-6, got "sonnet"$/);
  });
});
