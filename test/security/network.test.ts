import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { loadConfig, ConfigError } from '../../src/config.ts';
import { bash, runEscape } from './harness.ts';

/** An HTTP request to the sandbox's proxy bridge with bash alone (no curl needed). */
const viaProxy = (requestLine: string, host: string) =>
  `exec 3<>/dev/tcp/127.0.0.1/3128 && printf '${requestLine}\\r\\nHost: ${host}\\r\\nConnection: close\\r\\n\\r\\n' >&3 && head -c 300 <&3`;

describe('--allow-domain', () => {
  it('lets Bash reach the listed host through the egress proxy and nothing else', async () => {
    const server = createServer((_req, res) => res.end('hello-from-allowed-host'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const port = (server.address() as AddressInfo).port;
    const run = await runEscape(
      {
        'db-worker': {
          turns: [[
            bash(viaProxy(`GET http://localhost:${port}/ HTTP/1.1`, `localhost:${port}`)),
            bash(viaProxy('CONNECT example.com:443 HTTP/1.1', 'example.com:443')),
            bash(viaProxy(`GET http://127.0.0.1:${port}/ HTTP/1.1`, `127.0.0.1:${port}`)),
            bash(`exec 3<>/dev/tcp/127.0.0.1/${port} && echo direct`),
            bash('echo "$HTTPS_PROXY"'),
          ]],
        },
      },
      { over: { allowDomains: ['localhost'] } },
    );
    const [allowed, connect, byAddress, direct, env] = run.tools;
    expect(allowed?.content).toContain('hello-from-allowed-host');
    expect(connect?.content).toMatch(/403 Forbidden[\s\S]*example\.com is not in --allow-domain/);
    // Listing localhost is not listing 127.0.0.1, and the host's loopback is not the sandbox's.
    expect(byAddress?.content).toMatch(/403/);
    expect(direct?.isError).toBe(true);
    expect(env?.content.trim()).toBe('http://127.0.0.1:3128');
  }, 90_000);

  it('refuses a value that is not a host name at start-up, naming the option', () => {
    expect(() => loadConfig({ model: 'scripted', allowDomains: ['http://evil.example/'] }, {})).toThrow(ConfigError);
    expect(() => loadConfig({ model: 'scripted', allowDomains: ['http://evil.example/'] }, {})).toThrow(/--allowDomains\.0/);
  });
});
