import { lookup } from 'node:dns/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, isIP, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { OrchestratorError } from '../../errors.ts';

/** An IPv4 range as [network address, prefix length, what it is (for the refusal message)]. */
type Range4 = readonly [string, number, string];

/**
 * IPv4 ranges no allowed name may resolve to: this machine, private and
 * carrier networks, link-local (the cloud metadata service at
 * 169.254.169.254), and what is not globally routable (IANA's
 * special-purpose registry: documentation, benchmarking, multicast,
 * reserved, broadcast).
 */
const INTERNAL_V4: readonly Range4[] = [
  ['0.0.0.0', 8, '"this network" 0.0.0.0/8'],
  ['10.0.0.0', 8, 'private 10.0.0.0/8'],
  ['100.64.0.0', 10, 'carrier-grade NAT 100.64.0.0/10'],
  ['127.0.0.0', 8, 'loopback 127.0.0.0/8'],
  ['169.254.0.0', 16, 'link-local 169.254.0.0/16 (cloud metadata service)'],
  ['172.16.0.0', 12, 'private 172.16.0.0/12'],
  ['192.0.0.0', 24, 'IETF protocol assignments 192.0.0.0/24'],
  ['192.0.2.0', 24, 'documentation 192.0.2.0/24'],
  ['192.88.99.0', 24, '6to4 relay anycast 192.88.99.0/24'],
  ['192.168.0.0', 16, 'private 192.168.0.0/16'],
  ['198.18.0.0', 15, 'benchmarking 198.18.0.0/15'],
  ['198.51.100.0', 24, 'documentation 198.51.100.0/24'],
  ['203.0.113.0', 24, 'documentation 203.0.113.0/24'],
  ['224.0.0.0', 4, 'multicast 224.0.0.0/4'],
  ['240.0.0.0', 4, 'reserved 240.0.0.0/4 (and broadcast)'],
];

function ipv4Number(address: string): number | undefined {
  const parts = address.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return undefined;
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

const inRange4 = (n: number, [net, prefix]: Range4): boolean => {
  const size = 2 ** (32 - prefix);
  return Math.floor(n / size) === Math.floor((ipv4Number(net) ?? 0) / size);
};

function internalRange4(n: number): string | undefined {
  return INTERNAL_V4.find((range) => inRange4(n, range))?.[2];
}

/** The eight 16-bit groups of an IPv6 address (a trailing dotted IPv4 counts as two), or undefined. */
function ipv6Groups(address: string): number[] | undefined {
  const bare = address.replace(/%.*$/, '');
  const halves = bare.split('::');
  if (halves.length > 2) return undefined;
  const parse = (half: string): number[] | undefined => {
    if (half === '') return [];
    const out: number[] = [];
    const pieces = half.split(':');
    for (const [i, piece] of pieces.entries()) {
      if (i === pieces.length - 1 && piece.includes('.')) {
        const n = ipv4Number(piece);
        if (n === undefined) return undefined;
        out.push(Math.floor(n / 65_536), n % 65_536);
      } else if (/^[0-9a-f]{1,4}$/i.test(piece)) {
        out.push(parseInt(piece, 16));
      } else {
        return undefined;
      }
    }
    return out;
  };
  const head = parse(halves[0] ?? '');
  const tail = halves.length === 2 ? parse(halves[1] ?? '') : [];
  if (head === undefined || tail === undefined) return undefined;
  if (halves.length === 1) return head.length === 8 ? head : undefined;
  const zeros = 8 - head.length - tail.length;
  return zeros < 1 ? undefined : [...head, ...Array<number>(zeros).fill(0), ...tail];
}

const embedded = (high: number, low: number): number => high * 65_536 + low;
const dotted = (n: number): string => [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');

/**
 * Why a worker may not connect to `address` (an IP address, as resolved),
 * or undefined when it is a public address. IPv6 is allowed only in global
 * unicast (2000::/3), minus Teredo and documentation; the forms that embed
 * an IPv4 address (IPv4-mapped ::ffff:a.b.c.d, IPv4-compatible ::a.b.c.d,
 * NAT64 64:ff9b::/96, 6to4 2002::/16) are decided by the IPv4 address they
 * carry. Anything that is not an IP address is refused.
 *
 * @example
 * internalRange('8.8.8.8') // undefined: public
 * internalRange('::ffff:10.0.0.1') // 'private 10.0.0.0/8 (as IPv4-mapped IPv6 ::ffff:10.0.0.1)'
 */
export function internalRange(address: string): string | undefined {
  const kind = isIP(address);
  if (kind === 4) return internalRange4(ipv4Number(address) ?? 0);
  const g = kind === 6 ? ipv6Groups(address) : undefined;
  if (g === undefined) return `not an IP address (${address})`;
  const [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0, g6 = 0, g7 = 0] = g;
  const via = (n: number, form: string) => {
    const why = internalRange4(n);
    return why === undefined ? undefined : `${why} (as ${form} ${address}, IPv4 ${dotted(n)})`;
  };
  const first80Zero = g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0;
  if (first80Zero && g5 === 0 && g6 === 0 && g7 === 0) return 'the unspecified address ::';
  if (first80Zero && g5 === 0 && g6 === 0 && g7 === 1) return 'IPv6 loopback ::1';
  if (first80Zero && g5 === 0xffff) return via(embedded(g6, g7), 'IPv4-mapped IPv6');
  if (first80Zero && g5 === 0) return via(embedded(g6, g7), 'IPv4-compatible IPv6');
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) return via(embedded(g6, g7), 'NAT64 64:ff9b::/96');
  if (g0 === 0x2002) return via(embedded(g1, g2), '6to4 2002::/16');
  if (g0 === 0x2001 && g1 === 0) return 'Teredo 2001::/32';
  if (g0 === 0x2001 && g1 === 0xdb8) return 'documentation 2001:db8::/32';
  if (g0 >= 0x2000 && g0 <= 0x3fff) return undefined;
  if (g0 >= 0xfc00 && g0 <= 0xfdff) return 'unique local fc00::/7';
  if (g0 >= 0xfe80 && g0 <= 0xfebf) return 'link-local fe80::/10';
  if (g0 >= 0xff00) return 'multicast ff00::/8';
  return 'IPv6 outside global unicast 2000::/3';
}

/** A host a worker may reach: `registry.npmjs.org`, or `*.example.com` for any name below it. */
export const ALLOWED_HOST = /^(\*\.)?([a-z0-9]([a-z0-9-]*[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$|^\d{1,3}(\.\d{1,3}){3}$/;

/** Ports a listed host may be reached on when its entry names none. */
export const DEFAULT_CONNECT_PORT = 443;
export const DEFAULT_HTTP_PORT = 80;

/** One `--allow-domain` value: a host and, when given, the one port it may be reached on. */
export interface AllowEntry {
  host: string;
  port?: number;
}

/**
 * Parses `registry.npmjs.org`, `*.github.com`, `203.0.113.7` or any of
 * them with `:port`; throws an Error that says what is wrong with the value.
 */
export function parseAllowEntry(value: string): AllowEntry {
  if (/[/?#@\s]/.test(value.trim())) {
    throw new Error(`"${value}" is not a host name: give the host alone, without scheme, user or path, with an optional :port (e.g. registry.npmjs.org or example.com:8443)`);
  }
  const m = /^(.*?)(?::([^:]*))?$/.exec(value.trim().toLowerCase());
  const host = m?.[1] ?? '';
  const rawPort = m?.[2];
  if (!ALLOWED_HOST.test(host)) {
    throw new Error(`"${value}" is not a host name, *.domain or IPv4 address with an optional :port (e.g. registry.npmjs.org or example.com:8443)`);
  }
  if (rawPort === undefined) return { host };
  const port = /^\d{1,5}$/.test(rawPort) ? Number(rawPort) : NaN;
  if (!(port >= 1 && port <= 65_535)) {
    throw new Error(`"${value}": the port "${rawPort}" must be a number from 1 to 65535 (e.g. ${host}:443)`);
  }
  return { host, port };
}

export interface EgressProxy {
  /** The unix socket the sandbox's socat bridge connects to. */
  readonly socketPath: string;
  close(): Promise<void>;
}

export class EgressDeniedError extends OrchestratorError {}

/** Resolves a name to the one address the proxy connects to (a test can stand in for DNS). */
export type Resolve = (host: string) => Promise<string>;

const resolveByDns: Resolve = async (host) => (await lookup(host)).address;

export interface EgressOptions {
  /** Called with the reason each time a request is refused (the listener logs it). */
  onDenied?: (why: string) => void;
  /** DNS stand-in for tests; default: the system resolver (`dns.lookup`). */
  resolve?: Resolve;
}

const hostMatches = (host: string, entry: AllowEntry) => (entry.host.startsWith('*.') ? host.endsWith(entry.host.slice(1)) : host === entry.host);

/**
 * The address to connect to for `host:port`, or EgressDeniedError. The name
 * must be listed, and the port must be the entry's own or, for an entry
 * without one, `defaultPort` (443 for CONNECT, 80 for plain http://). The
 * name is resolved once here (the connection goes to that address, so a
 * second lookup cannot rebind it), and a listed name that resolves to an
 * internal address (internalRange) is refused unless the entry is that
 * address itself or `localhost`: an allowed domain must not become a way
 * to Redis or the metadata service.
 */
async function resolveAllowed(rawHost: string, port: number, defaultPort: number, allow: readonly AllowEntry[], resolve: Resolve, what: string): Promise<string> {
  const host = rawHost.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
  const listed = allow.filter((entry) => hostMatches(host, entry));
  const shown = allow.map((e) => (e.port === undefined ? e.host : `${e.host}:${e.port}`)).join(', ');
  if (listed.length === 0) throw new EgressDeniedError(`${host} is not in --allow-domain (${shown})`);
  const entry = listed.find((e) => (e.port ?? defaultPort) === port);
  if (entry === undefined) {
    const ports = [...new Set(listed.map((e) => e.port ?? defaultPort))].join(', ');
    throw new EgressDeniedError(
      `${what} to ${host}:${port} refused: --allow-domain allows ${host} on port ${ports} only; add --allow-domain ${listed[0]?.host ?? host}:${port} to allow that port`,
    );
  }
  const address = isIP(host) ? host : await resolve(host);
  const internal = internalRange(address);
  if (internal !== undefined && entry.host !== 'localhost' && entry.host !== address) {
    throw new EgressDeniedError(`${host} resolves to the internal address ${address} (${internal}): the egress proxy reaches public addresses only`);
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
 * Tools that ignore the proxy variables get no network at all. An entry
 * without a port allows CONNECT to 443 and plain HTTP to 80; `host:port`
 * allows that port only (repeat the entry for more than one).
 *
 * @example
 * const proxy = await startEgressProxy(['registry.npmjs.org', 'example.com:8443']);
 * // Bash options: { ..., proxySocket: proxy.socketPath }
 */
export async function startEgressProxy(allowed: readonly string[], options: EgressOptions = {}): Promise<EgressProxy> {
  const allow = allowed.map(parseAllowEntry);
  const resolveName = options.resolve ?? resolveByDns;
  const onDenied = options.onDenied;
  const dir = mkdtempSync(path.join(tmpdir(), 'orch-egress-'));
  const socketPath = path.join(dir, 'proxy.sock');
  const sockets = new Set<Socket | Duplex>();
  const track = <T extends Socket | Duplex>(s: T): T => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    return s;
  };
  /** A refusal (403) or a name that does not resolve (502), with the reason in the body. */
  const refusal = (error: Error): { status: number; reason: string; message: string } => {
    const denied = error instanceof EgressDeniedError;
    const message = denied ? error.message : `cannot resolve the host: ${error.message}`;
    if (denied) onDenied?.(message);
    return denied ? { status: 403, reason: 'Forbidden', message } : { status: 502, reason: 'Bad Gateway', message };
  };

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
    const port = url.port === '' ? DEFAULT_HTTP_PORT : Number(url.port);
    resolveAllowed(url.hostname, port, DEFAULT_HTTP_PORT, allow, resolveName, 'plain HTTP').then(
      (address) => {
        const upstream = httpRequest(
          { host: address, port, method: req.method, path: `${url.pathname}${url.search}`, headers: { ...req.headers, host: url.host } },
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
        const { status, message } = refusal(error);
        res.writeHead(status, { 'content-type': 'text/plain' }).end(`${message}\n`);
      },
    );
  });

  server.on('connect', (req: IncomingMessage, client: Duplex, head: Buffer) => {
    track(client);
    client.on('error', () => client.destroy());
    const { host, port } = splitHostPort(req.url ?? '', DEFAULT_CONNECT_PORT);
    resolveAllowed(host, port, DEFAULT_CONNECT_PORT, allow, resolveName, 'CONNECT').then(
      (address) => {
        const upstream = track(connect(port, address));
        upstream.once('connect', () => {
          client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
          if (head.length > 0) upstream.write(head);
          upstream.pipe(client);
          client.pipe(upstream);
        });
        upstream.on('error', (error) => {
          if (client.writable) client.end(`HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/plain\r\n\r\nupstream failed: ${error.message}\n`);
          client.destroy();
        });
        client.once('close', () => upstream.destroy());
      },
      (error: Error) => {
        const { status, reason, message } = refusal(error);
        client.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: text/plain\r\n\r\n${message}\n`);
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
