import { connect, createServer as createTcpServer, type AddressInfo } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { ConfigError } from '../../src/errors.ts';
import { internalRange, parseAllowEntry, startEgressProxy, type EgressOptions, type Resolve } from '../../src/workers/sandbox/egressProxy.ts';
import { allowedHost, bash, runEscape, viaProxy } from './harness.ts';

/** An HTTP request to the sandbox's proxy bridge with bash alone (no curl needed). */
describe('--allow-domain', () => {
  it('lets Bash reach the listed host through the egress proxy and nothing else', async () => {
    const port = await allowedHost();
    const run = await runEscape(
      {
        'db-worker': {
          turns: [[
            bash(viaProxy(`GET http://localhost:${port}/ HTTP/1.1`, `localhost:${port}`)),
            bash(viaProxy(`CONNECT localhost:${port + 1} HTTP/1.1`, `localhost:${port + 1}`)),
            bash(viaProxy('CONNECT example.com:443 HTTP/1.1', 'example.com:443')),
            bash(viaProxy(`GET http://127.0.0.1:${port}/ HTTP/1.1`, `127.0.0.1:${port}`)),
            bash(`exec 3<>/dev/tcp/127.0.0.1/${port} && echo direct`),
            bash('echo "$HTTPS_PROXY"'),
          ]],
        },
      },
      { over: { allowDomains: [`localhost:${port}`] } },
    );
    const [allowed, otherPort, connect, byAddress, direct, env] = run.tools;
    expect(allowed?.content).toContain('hello-from-allowed-host');
    expect(otherPort?.content).toMatch(new RegExp(`403 Forbidden[\\s\\S]*allows localhost on port ${port} only`));
    expect(connect?.content).toMatch(/403 Forbidden[\s\S]*example\.com is not in --allow-domain/);
    // Listing localhost is not listing 127.0.0.1, and the host's loopback is not the sandbox's.
    expect(byAddress?.content).toMatch(/403/);
    expect(direct?.isError).toBe(true);
    expect(env?.content.trim()).toBe('http://127.0.0.1:3128');
  }, 90_000);

  it('refuses a value that is not a host name at start-up, naming the option', () => {
    expect(() => loadConfig({ model: 'scripted', allowDomains: ['http://evil.example/'] }, {})).toThrow(ConfigError);
    expect(() => loadConfig({ model: 'scripted', allowDomains: ['http://evil.example/'] }, {})).toThrow(/allowDomains\.0: /);
  });

  it('takes host:port and says what is wrong with a bad one', () => {
    expect(parseAllowEntry('registry.npmjs.org')).toEqual({ host: 'registry.npmjs.org' });
    expect(parseAllowEntry('Registry.NPMjs.org:443')).toEqual({ host: 'registry.npmjs.org', port: 443 });
    expect(parseAllowEntry('*.github.com:8443')).toEqual({ host: '*.github.com', port: 8443 });
    expect(parseAllowEntry('203.0.113.7:80')).toEqual({ host: '203.0.113.7', port: 80 });
    const config = (value: string) => () => loadConfig({ model: 'scripted', allowDomains: ['registry.npmjs.org', value] }, {});
    expect(config('example.com:8443')().allowDomains).toEqual(['registry.npmjs.org', 'example.com:8443']);
    expect(config('example.com:99999')).toThrow(/allowDomains\.1: "example\.com:99999": the port "99999" must be a number from 1 to 65535/);
    expect(config('example.com:https')).toThrow(/the port "https" must be a number from 1 to 65535 \(e\.g\. example\.com:443\)/);
    expect(config('example.com:')).toThrow(/the port "" must be a number/);
    expect(config('example.com:0')).toThrow(/the port "0"/);
    expect(config('exa_mple.com:443')).toThrow(/is not a host name, \*\.domain or IPv4 address with an optional :port/);
    expect(config('https://example.com/')).toThrow(/without scheme, user or path/);
  });
});

describe('the egress decision: which addresses a listed name may resolve to', () => {
  it.each(['8.8.8.8', '1.1.1.1', '104.16.1.34', '140.82.112.3', '2606:4700::1', '2a00:1450:4001:81c::200e', '::ffff:8.8.8.8', '64:ff9b::808:808', '2002:808:808::1'])(
    'lets the public address %s through',
    (address) => {
      expect(internalRange(address)).toBeUndefined();
    },
  );

  it.each([
    ['127.0.0.1', /loopback/],
    ['127.8.9.10', /loopback/],
    ['10.1.2.3', /private 10\./],
    ['172.16.0.1', /private 172\.16/],
    ['172.31.255.255', /private 172\.16/],
    ['192.168.1.1', /private 192\.168/],
    ['169.254.169.254', /link-local .*metadata/],
    ['100.64.0.1', /carrier-grade NAT/],
    ['0.0.0.0', /this network/],
    ['224.0.0.251', /multicast/],
    ['255.255.255.255', /reserved/],
    ['::1', /IPv6 loopback/],
    ['::', /unspecified/],
    ['::ffff:127.0.0.1', /loopback .*IPv4-mapped/],
    ['::ffff:10.0.0.1', /private 10\..*IPv4-mapped/],
    ['::ffff:a9fe:a9fe', /metadata.*IPv4 169\.254\.169\.254/],
    ['::127.0.0.1', /loopback .*IPv4-compatible/],
    ['64:ff9b::a00:1', /private 10\..*NAT64/],
    ['2002:7f00:1::', /loopback .*6to4/],
    ['2001:0:4136:e378::1', /Teredo/],
    ['fd00::1', /unique local/],
    ['fc00::1', /unique local/],
    ['fe80::1', /link-local fe80/],
    ['fe80::1%eth0', /link-local fe80/],
    ['ff02::1', /multicast/],
    ['100::1', /outside global unicast/],
    ['localhost', /not an IP address/],
  ])('refuses %s', (address, why) => {
    expect(internalRange(address)).toMatch(why);
  });

  it('is not fooled by how IPv4 addresses compare against IPv6 ranges (the ::ffff:0:0/96 bug refused every IPv4 host)', () => {
    for (let first = 1; first < 224; first++) {
      const address = `${first}.1.2.3`;
      // x.1.2.3 is internal only in 10/8 and 127/8 (100.1, 169.1, 172.1 and 192.1 are public).
      expect(internalRange(address) !== undefined, address).toBe(first === 10 || first === 127);
    }
  });
});

/** Sends one raw request to the proxy's unix socket; resolves with everything it answers until it closes (or `until` matches). */
function rawRequest(socketPath: string, request: string, until?: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    let answer = '';
    socket.on('data', (chunk) => {
      answer += chunk.toString();
      if (until?.test(answer)) {
        socket.destroy();
        resolve(answer);
      }
    });
    socket.once('error', reject);
    socket.once('close', () => resolve(answer));
    socket.write(request);
  });
}

async function proxy(allow: string[], options: EgressOptions = {}) {
  const denied: string[] = [];
  const started = await startEgressProxy(allow, { onDenied: (why) => denied.push(why), ...options });
  onTestFinished(() => started.close());
  return { socketPath: started.socketPath, denied };
}

/** DNS for these tests: nothing leaves the machine. */
const fakeDns =
  (names: Record<string, string>): Resolve =>
  async (host) => {
    const address = names[host];
    if (address === undefined) throw new Error(`getaddrinfo ENOTFOUND ${host}`);
    return address;
  };

describe('the egress proxy, end to end on loopback', () => {
  it('refuses CONNECT to an allowed name on another port than 443, saying how to allow it, before any DNS lookup', async () => {
    const lookups: string[] = [];
    const { socketPath, denied } = await proxy(['registry.npmjs.org'], {
      resolve: async (host) => {
        lookups.push(host);
        return '104.16.1.34';
      },
    });
    const answer = await rawRequest(socketPath, 'CONNECT registry.npmjs.org:22 HTTP/1.1\r\nHost: registry.npmjs.org:22\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 403 Forbidden/);
    expect(answer).toContain('CONNECT to registry.npmjs.org:22 refused: --allow-domain allows registry.npmjs.org on port 443 only; add --allow-domain registry.npmjs.org:22');
    expect(denied).toHaveLength(1);
    expect(lookups).toEqual([]);
    // Plain http:// to a name listed without a port goes to 80 only.
    const plain = await rawRequest(socketPath, 'GET http://registry.npmjs.org:8080/ HTTP/1.1\r\nHost: registry.npmjs.org:8080\r\nConnection: close\r\n\r\n');
    expect(plain).toMatch(/^HTTP\/1\.1 403[\s\S]*plain HTTP to registry\.npmjs\.org:8080 refused: --allow-domain allows registry\.npmjs\.org on port 80 only/);
  });

  it('with host:port allows that port only', async () => {
    const { socketPath } = await proxy(['example.com:8443']);
    const answer = await rawRequest(socketPath, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 403[\s\S]*allows example\.com on port 8443 only/);
  });

  it('refuses a listed name that resolves to loopback, a private network or the metadata address, also as IPv4-mapped IPv6', async () => {
    const { socketPath, denied } = await proxy(['*.example.com'], {
      resolve: fakeDns({
        'loop.example.com': '127.0.0.1',
        'lan.example.com': '10.0.0.7',
        'meta.example.com': '169.254.169.254',
        'mapped.example.com': '::ffff:127.0.0.1',
        'ula.example.com': 'fd00::1',
      }),
    });
    for (const [name, address] of [
      ['loop.example.com', '127.0.0.1'],
      ['lan.example.com', '10.0.0.7'],
      ['meta.example.com', '169.254.169.254'],
      ['mapped.example.com', '::ffff:127.0.0.1'],
      ['ula.example.com', 'fd00::1'],
    ] as const) {
      const answer = await rawRequest(socketPath, `CONNECT ${name}:443 HTTP/1.1\r\nHost: ${name}:443\r\n\r\n`);
      expect(answer).toMatch(/^HTTP\/1\.1 403 Forbidden/);
      expect(answer).toContain(`${name} resolves to the internal address ${address}`);
    }
    expect(denied).toHaveLength(5);
    const unknown = await rawRequest(socketPath, 'CONNECT nowhere.example.com:443 HTTP/1.1\r\nHost: nowhere.example.com:443\r\n\r\n');
    expect(unknown).toMatch(/^HTTP\/1\.1 502 Bad Gateway[\s\S]*cannot resolve the host: getaddrinfo ENOTFOUND nowhere\.example\.com/);
  });

  it('tunnels CONNECT to a listed host:port (localhost, which the operator named itself)', async () => {
    const echo = createTcpServer((socket) => socket.pipe(socket));
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => new Promise<void>((resolve) => echo.close(() => resolve())));
    const port = (echo.address() as AddressInfo).port;
    const { socketPath } = await proxy([`localhost:${port}`], { resolve: fakeDns({ localhost: '127.0.0.1' }) });
    const answer = await rawRequest(socketPath, `CONNECT localhost:${port} HTTP/1.1\r\nHost: localhost:${port}\r\n\r\nping-through-tunnel`, /ping-through-tunnel/);
    expect(answer).toMatch(/^HTTP\/1\.1 200 Connection Established\r\n\r\nping-through-tunnel/);
  });
});
