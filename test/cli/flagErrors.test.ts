import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';

// A bad value names what the person typed: the flag (`--redis`, not the
// schema's `redisUrl`), or the environment variable it came from.
const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, ...extra });
const cwd = mkdtempSync(join(tmpdir(), 'orch-flag-errors-'));

describe('errors of start name the flag as typed', { timeout: 30_000 }, () => {
  it('--redis notaurl', async () => {
    const { status, stderr } = await runCli(['start', '--redis', 'notaurl'], env(), cwd);
    expect(status).toBe(2);
    expect(stderr).toContain('--redis: must be a redis:// or rediss:// URL');
    expect(stderr).not.toContain('redisUrl');
  });

  it('--concurrency abc and --concurrency 0', async () => {
    const abc = await runCli(['start', '--concurrency', 'abc'], env(), cwd);
    expect(abc.status).toBe(2);
    expect(abc.stderr).toContain('--concurrency: must be a whole number, got "abc"');
    expect(abc.stderr).not.toContain('is invalid'); // commander's message in front of ours
    const zero = await runCli(['start', '--concurrency', '0'], env(), cwd);
    expect(zero.status).toBe(2);
    expect(zero.stderr).toMatch(/\n {2}--concurrency: /);
  });

  it('--allow-domain http://x (a repeatable flag)', async () => {
    const { status, stderr } = await runCli(['start', '--allow-domain', 'example.com', '--allow-domain', 'http://x'], env(), cwd);
    expect(status).toBe(2);
    expect(stderr).toMatch(/\n {2}--allow-domain: "http:\/\/x" is not a host name/);
    expect(stderr).not.toContain('allowDomains');
  });

  it('a renamed flag: --heartbeat-ms, not heartbeatIntervalMs', async () => {
    const { status, stderr } = await runCli(['start', '--heartbeat-ms', '5'], env(), cwd);
    expect(status).toBe(2);
    expect(stderr).toMatch(/\n {2}--heartbeat-ms: /);
  });

  it('a value the schema takes apart names its flag once: --tokens-per-minute lots', async () => {
    const { status, stderr } = await runCli(['start', '--tokens-per-minute', 'lots'], env(), cwd);
    expect(status).toBe(2);
    expect(stderr.match(/--tokens-per-minute: /g)).toHaveLength(1);
    expect(stderr).not.toContain('tokensPerMinute');
  });

  it('a global flag given before the command: --domain', async () => {
    const { status, stderr } = await runCli(['--domain', 'Not Ok', 'start'], env(), cwd);
    expect(status).toBe(2);
    expect(stderr).toContain('--domain: must be lower-case letters');
  });

  it('a value from the environment names its variable', async () => {
    const { status, stderr } = await runCli(['start'], env({ REDIS_URL: 'notaurl' }), cwd);
    expect(status).toBe(2);
    expect(stderr).toContain('REDIS_URL: must be a redis:// or rediss:// URL');
    expect(stderr).not.toContain('--redis');
  });

  it('console --token names --token, and ORCH_CONSOLE_TOKEN when it came from there', async () => {
    const flag = await runCli(['console', '--token', 'short'], env(), cwd);
    expect(flag.status).toBe(2);
    expect(flag.stderr).toContain('--token: must be at least 16 characters');
    const fromEnv = await runCli(['console'], env({ ORCH_CONSOLE_TOKEN: 'short' }), cwd);
    expect(fromEnv.status).toBe(2);
    expect(fromEnv.stderr).toContain('ORCH_CONSOLE_TOKEN: must be at least 16 characters');
  });
});
