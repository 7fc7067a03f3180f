import { lookup } from 'node:dns/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { BlockList, connect, isIP, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Duplex } from 'node:stream';

/** Addresses a name must not resolve to unless the operator listed that address (or `localhost`) itself. */
const INTERNAL = new BlockList();
for (const [net, prefix] of [['127.0.0.0', 8], ['10.0.0.0', 8], ['172.16.0.0', 12], ['192.168.0.0', 16], ['169.254.0.0', 16], ['0.0.0.0', 8], ['100.64.0.0', 10]] as const) {
  INTERNAL.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [['::1', 128], ['fc00::', 7], ['fe80::', 10], ['::', 128], ['::ffff:0:0', 96]] as const) {
  INTERNAL.addSubnet(net, prefix, 'ipv6');
}

/** A host a worker may reach: `registry.npmjs.org`, or `*.example.com` for any name below it. */
export const ALLOWED_HOST = /^(\*\.)?([a-z0-9]([a-z0-9-]*[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$|^\d{1,3}(\.\d{1,3}){3}$/;

export interface EgressProxy {
  /** The unix socket the sandbox's socat bridge connects to. */
  readonly socketPath: string;
  close(): Promise<void>;
}

export class EgressDeniedError extends Error {
  override name = 'EgressDeniedError';
}

function matches(host: string, allow: readonly string[]): string | undefined {
  return allow.find((entry) => (entry.startsWith('*.') ? host.endsWith(entry.slice(1)) : host === entry));
}

/**
 * The address to connect to for `host`, or EgressDeniedError. The name must
 * be listed; it is resolved once here (the connection goes to that address,
 * so a second lookup cannot rebind it), and a listed name that resolves to
 * loopback or a private network is refused unless the entry is that
 * address itself or `localhost`: an allowed domain must not become a way
 * to Redis or the metadata service.
 */
async function resolveAllowed(rawHost: string, allow: readonly string[]): Promise<string> {
  const host = rawHost.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
  const entry = matches(host, allow);
  if (entry === undefined) throw new EgressDeniedError(`${host} is not in --allow-domain (${allow.join(', ')})`);
  const address = isIP(host) ? host : (await lookup(host)).address;
  const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
  if (INTERNAL.check(address, family) && entry !== 'localhost' && entry !== address) {
    throw new EgressDeniedError(`${host} resolves to the internal address ${address}`);
  }
  return address;
}

function splitHostPort(authority: string, defaultPort: number): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(authority);
  return { host: m?.[1] ?? authority, port: m?.[2] === undefined ? defaultPort : Number(m[2]) };
}

/**
 * An HTTP proxy on a unix socket that lets through only the listed hosts:
 * CONNECT tunnels (HTTPS, git over HTTPS) and plain HTTP requests. The
 * sandbox has no network of its own; bwrap binds this socket in, socat
 * bridges it to 127.0.0.1:3128 inside, and HTTP(S)_PROXY point there.
 * Tools that ignore the proxy variables get no network at all.
 *
 * @example
 * const proxy = await startEgressProxy(['registry.npmjs.org']);
 * // Bash options: { ..., proxySocket: proxy.socketPath }
 */
export async function startEgressProxy(allow: readonly string[], onDenied?: (why: string) => void): Promise<EgressProxy> {
  const dir = mkdtempSync(path.join(tmpdir(), 'orch-egress-'));
  const socketPath = path.join(dir, 'proxy.sock');
  const sockets = new Set<Socket | Duplex>();
  const track = <T extends Socket | Duplex>(s: T): T => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    return s;
  };
  const deny = (why: string) => onDenied?.(why);

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    // Plain HTTP through the proxy: the request line carries an absolute URL.
    let url: URL;
    try {
      url = new URL(req.url ?? '');
    } catch {
      res.writeHead(400).end('absolute http:// URL expected\n');
      return;
    }
    if (url.protocol !== 'http:') {
      res.writeHead(400).end('only http:// here; https goes through CONNECT\n');
      return;
    }
    resolveAllowed(url.hostname, allow).then(
      (address) => {
        const upstream = httpRequest(
          { host: address, port: url.port || 80, method: req.method, path: `${url.pathname}${url.search}`, headers: { ...req.headers, host: url.host } },
          (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
          },
        );
        upstream.on('error', (error) => {
          if (!res.headersSent) res.writeHead(502);
          res.end(`upstream failed: ${error.message}\n`);
        });
        req.pipe(upstream);
      },
      (error: Error) => {
        deny(error.message);
        res.writeHead(403).end(`${error.message}\n`);
      },
    );
  });

  server.on('connect', (req: IncomingMessage, client: Duplex, head: Buffer) => {
    track(client);
    client.on('error', () => client.destroy());
    const { host, port } = splitHostPort(req.url ?? '', 443);
    resolveAllowed(host, allow).then(
      (address) => {
        const upstream = track(connect(port, address));
        upstream.once('connect', () => {
          client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
          if (head.length > 0) upstream.write(head);
          upstream.pipe(client);
          client.pipe(upstream);
        });
        upstream.on('error', () => {
          if (client.writable) client.end('HTTP/1.1 502 Bad Gateway\r\n\r\n');
          client.destroy();
        });
        client.once('close', () => upstream.destroy());
      },
      (error: Error) => {
        deny(error.message);
        client.end(`HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\n\r\n${error.message}\n`);
      },
    );
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  let closing: Promise<void> | undefined;
  return {
    socketPath,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.closeAllConnections();
        server.close(() => {
          rmSync(dir, { recursive: true, force: true });
          resolve();
        });
      })),
  };
}
