import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';

// A bad value names what the person typed: the flag (`--redis`, not the
// schema's `redisUrl`), or the environment variable it came from.
const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, ...extra });
const cwd = mkdtempSync(join(tmpdir(), 'orch-flag-errors-'));

describe('errors of start name the flag as typed', { timeout: 90_000 }, () => {
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
    // One line: the flag as typed, the problem with what was given, the pointer to the help; no "invalid configuration:" header.
    expect(zero.stderr).toBe('backend-orchestrator: --concurrency: must be a whole number from 1 to 1024, got 0 (see backend-orchestrator start --help)\n');
  });

  it('--allow-domain http://x (a repeatable flag)', async () => {
    const { status, stderr } = await runCli(['start', '--allow-domain', 'example.com', '--allow-domain', 'http://x'], env(), cwd);
    expect(status).toBe(2);
    expect(stderr).toMatch(/^backend-orchestrator: --allow-domain: "http:\/\/x" is not a host name.*\(see backend-orchestrator start --help\)\n$/);
    expect(stderr).not.toContain('allowDomains');
  });

  it('a renamed flag: --heartbeat-ms, not heartbeatIntervalMs', async () => {
    const { status, stderr } = await runCli(['start', '--heartbeat-ms', '5'], env(), cwd);
    expect(status).toBe(2);
    expect(stderr).toBe('backend-orchestrator: --heartbeat-ms: must be a whole number from 100 to 600000, got 5 (see backend-orchestrator start --help)\n');
  });

  it('a value the schema takes apart names its flag once: --tokens-per-minute lots', async () => {
    const { status, stderr } = await runCli(['start', '--tokens-per-minute', 'lots'], env(), cwd);
    expect(status).toBe(2);
    expect(stderr.match(/--tokens-per-minute: /g)).toHaveLength(1);
    expect(stderr).not.toContain('tokensPerMinute');
  });

  it('an option of a fixed set says the choices and what was given: --model', async () => {
    const { status, stderr } = await runCli(['start', '--model', 'claude'], env(), cwd);
    expect(status).toBe(2);
    expect(stderr).toBe('backend-orchestrator: --model: must be anthropic or scripted, got "claude" (see backend-orchestrator start --help)\n');
  });

  it('two bad values: both on one line', async () => {
    const { status, stderr } = await runCli(['start', '--concurrency', '0', '--claim-timeout', '99'], env(), cwd);
    expect(status).toBe(2);
    expect(stderr.split('\n').filter(Boolean)).toHaveLength(1);
    expect(stderr).toContain('--concurrency: must be a whole number from 1 to 1024, got 0; --claim-timeout: must be a number from 0.05 to 30, got 99');
  });

  it('a global flag given before the command: --domain', async () => {
    const { status, stderr } = await runCli(['--domain', 'Not Ok', 'start'], env(), cwd);
    expect(status).toBe(2);
    expect(stderr).toContain('--domain: must be lower-case letters');
  });

  it('client commands name --redis and --domain, not redisUrl and domain', async () => {
    const commands = [['status', 'x'], ['cancel', 'x'], ['watch', '--once'], ['send', 'Create a users table'], ['demo']];
    const runs = await Promise.all(commands.map((command) => runCli([...command, '--redis', 'notaurl'], env(), cwd)));
    runs.forEach((run, i) => {
      expect(run.status, commands[i]!.join(' ')).toBe(2);
      expect(run.stderr).toBe(`backend-orchestrator: --redis: must be a redis:// or rediss:// URL (see backend-orchestrator ${commands[i]![0]!} --help)\n`);
    });
    const domain = await runCli(['--domain', 'Not Ok', 'status', 'x'], env(), cwd);
    expect(domain.status).toBe(2);
    expect(domain.stderr).toBe('backend-orchestrator: --domain: must be lower-case letters, digits, - or _ (see backend-orchestrator status --help)\n');
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
