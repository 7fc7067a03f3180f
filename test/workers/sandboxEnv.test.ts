import { describe, expect, it } from 'vitest';
import { sandboxEnv } from '../../src/workers/tools/sandboxEnv.ts';

describe('sandboxEnv', () => {
  const host = {
    PATH: '/usr/bin', HOME: '/home/o', LANG: 'C.UTF-8', LC_ALL: 'C', TZ: 'UTC',
    ANTHROPIC_API_KEY: 'sk', ANTHROPIC_BASE_URL: 'http://x', REDIS_URL: 'redis://x', REDIS_PASSWORD: 'p',
    OPENAI_API_KEY: 'k', GITHUB_TOKEN: 't', DB_PASSWORD: 'p', AWS_SECRET_ACCESS_KEY: 's', SESSION_SECRET: 's',
    RANDOM_APP_SETTING: 'v', UNSET: undefined,
  };

  it('keeps what a shell needs and drops every secret and everything unknown', () => {
    const env = sandboxEnv(host);
    expect(env).toMatchObject({ PATH: '/usr/bin', HOME: '/home/o', LANG: 'C.UTF-8', LC_ALL: 'C', TZ: 'UTC' });
    for (const name of Object.keys(host).filter((n) => !['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ'].includes(n))) {
      expect(env).not.toHaveProperty(name);
    }
  });

  it('adds names a deployment asks for, but never secrets', () => {
    const env = sandboxEnv({ ...host, HTTPS_PROXY: 'http://proxy' }, ['HTTPS_PROXY', 'DB_PASSWORD']);
    expect(env['HTTPS_PROXY']).toBe('http://proxy');
    expect(env).not.toHaveProperty('DB_PASSWORD');
  });

  it('makes commands non-interactive', () => {
    expect(sandboxEnv({})).toMatchObject({ GIT_TERMINAL_PROMPT: '0', PAGER: 'cat' });
  });
});
