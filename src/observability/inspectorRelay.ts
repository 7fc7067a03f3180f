import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { OrchestratorError } from '../errors.ts';

/**
 * The inspector UI the relay's page embeds (what `createInspectorServer`
 * of @statelyai/inspect 0.7 embeds). The page hands it the events by
 * `postMessage`; the UI itself never opens the relay's WebSocket, so its
 * origin is not one the relay accepts.
 */
export const STATELY_INSPECTOR_URL = 'https://stately.ai/inspect';

/** The address the relay binds unless `--inspect-host` says otherwise. */
export const DEFAULT_INSPECT_HOST = '127.0.0.1';

/** Events replayed to a viewer that connects late (the library's relay kept as many). */
const REPLAY = 200;

const isWildcard = (host: string) => host === '0.0.0.0' || host === '::' || host === '[::]';

/** 127.0.0.0/8, ::1 and `localhost`: only this machine can connect. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.toLowerCase().replace(/^\[|\]$/g, '');
  return bare === 'localhost' || bare === '::1' || (isIP(bare) === 4 && bare.startsWith('127.'));
}

const hostInUrl = (host: string) => {
  const bare = host.replace(/^\[|\]$/g, '');
  return isIP(bare) === 6 ? `[${bare}]` : bare;
};

/**
 * The page origins whose WebSocket upgrades the relay accepts: its own page
 * as a browser shows it, `http://localhost:<port>`, `http://127.0.0.1:<port>`
 * and `http://[::1]:<port>`, plus `http://<host>:<port>` when `--inspect-host`
 * names another address or name (not a wildcard such as 0.0.0.0, whose
 * page a browser elsewhere reaches by a name the relay cannot know).
 * Everything else that sends an Origin (any other web page) is refused;
 * clients that send none (the orchestrator itself, `ws`, websocat) are not
 * browsers running someone else's page and are let in.
 */
export function allowedInspectOrigins(host: string, port: number): string[] {
  const names = ['localhost', '127.0.0.1', '[::1]'];
  if (!isWildcard(host)) names.push(hostInUrl(host.toLowerCase()));
  // URL drops a default port (80), as a browser's Origin header does.
  return [...new Set(names.map((name) => new URL(`http://${name}:${port}`).origin))];
}

/**
 * The page a person opens: the hosted inspector UI in a frame, fed with the
 * relay's events. Unlike the library's page it connects to the address it
 * was loaded from (so a relay on another host works) and hands events only
 * to its own frame, at the origin that frame reported from.
 */
function bridgePage(inspectorUrl: string): string {
  const inspectorHost = new URL(inspectorUrl).hostname;
  return `<!DOCTYPE html>
<html>
<head>
  <meta charset="utf-8">
  <title>Stately Inspector</title>
  <style>
    * { margin: 0; padding: 0; }
    html, body { height: 100%; }
    iframe { width: 100%; height: 100%; border: none; }
  </style>
</head>
<body>
  <iframe id="inspector" src="${inspectorUrl}"></iframe>
  <script>
    const iframe = document.getElementById('inspector');
    const inspectorHost = ${JSON.stringify(inspectorHost)};
    const buffer = [];
    let target = null;
    window.addEventListener('message', (e) => {
      if (e.source !== iframe.contentWindow || !e.data || e.data.type !== '@statelyai.connected') return;
      const from = new URL(e.origin);
      if (from.protocol !== 'https:' || (from.hostname !== inspectorHost && !from.hostname.endsWith('.' + inspectorHost))) return;
      target = e.origin;
      for (const event of buffer.splice(0)) iframe.contentWindow.postMessage(event, target);
    });
    const ws = new WebSocket('ws://' + location.host + '/');
    ws.onmessage = (event) => {
      const data = JSON.parse(event.data);
      if (target) iframe.contentWindow.postMessage(data, target);
      else buffer.push(data);
    };
  </script>
</body>
</html>`;
}

export interface InspectorRelayOptions {
  /** Address to bind. Default 127.0.0.1 (this machine only). */
  host?: string;
  port: number;
  /** The inspector UI the page embeds. Default STATELY_INSPECTOR_URL. */
  inspectorUrl?: string;
  /** Called with the Origin of each refused upgrade (the listener logs it). */
  onRefused?: (origin: string) => void;
}

export interface InspectorRelay {
  /** What the server is bound to (`server.address()`). */
  readonly address: AddressInfo;
  /** Where the orchestrator sends events: only a connection to this path is relayed. */
  readonly publishUrl: string;
  /** The page to open in a browser. */
  readonly pageUrl: string;
  /** Page origins whose WebSocket upgrades are accepted (besides none at all). */
  readonly allowedOrigins: readonly string[];
  stop(): void;
}

export class InspectorRelayError extends OrchestratorError {
  constructor(
    message: string,
    readonly code: 'port-taken' | 'bad-host' | 'other',
  ) {
    super(message);
  }
}

/** Answers an upgrade with a plain HTTP error and closes the socket once it is written. */
function refuse(socket: Duplex, status: number, reason: string, body: string): void {
  socket.once('finish', () => socket.destroy());
  socket.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}

/**
 * The local relay between the orchestrator and the inspector page in a
 * browser (replaces `createInspectorServer` of @statelyai/inspect 0.7,
 * which binds every interface and checks no Origin):
 *
 * - binds `host` (loopback by default);
 * - serves the page at `/` and refuses WebSocket upgrades whose Origin
 *   header is present and not in `allowedInspectOrigins` (HTTP 403), so
 *   another web page cannot read the events through `ws://localhost`;
 * - relays only what arrives on the publisher path, whose random token
 *   only this process knows; what viewers send is dropped, so no client can
 *   inject messages into the other viewers.
 *
 * @example
 * const relay = await startInspectorRelay({ port: 8787 });
 * createWebSocketInspector({ url: relay.publishUrl });
 * console.log(`open ${relay.pageUrl}`);
 */
export async function startInspectorRelay(options: InspectorRelayOptions): Promise<InspectorRelay> {
  const host = options.host ?? DEFAULT_INSPECT_HOST;
  const page = bridgePage(options.inspectorUrl ?? STATELY_INSPECTOR_URL);
  const token = randomBytes(24).toString('hex');
  const publishPath = `/publish/${token}`;
  const isPublisher = (url: string | undefined) => {
    const a = Buffer.from(url ?? '');
    const b = Buffer.from(publishPath);
    return a.length === b.length && timingSafeEqual(a, b);
  };

  const viewers = new Set<WebSocket>();
  const publishers = new Set<WebSocket>();
  const replay: string[] = [];
  const wss = new WebSocketServer({ noServer: true });

  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url !== '/' && req.url !== '/index.html')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('the inspector page is at /\n');
      return;
    }
    res
      .writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        // Another site must not frame the page (and talk to it as its parent).
        'x-frame-options': 'DENY',
        'content-security-policy': "frame-ancestors 'none'",
      })
      .end(page);
  });

  let allowed: Set<string> = new Set();
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const origin = req.headers.origin;
    if (origin !== undefined && !allowed.has(origin.toLowerCase())) {
      options.onRefused?.(origin);
      refuse(
        socket,
        403,
        'Forbidden',
        `the inspector relay accepts WebSocket connections from its own page (${[...allowed].join(', ')}) or from clients that send no Origin, not from ${origin}\n`,
      );
      return;
    }
    const publisher = isPublisher(req.url);
    wss.handleUpgrade(req, socket, head, (ws) => {
      if (publisher) {
        publishers.add(ws);
        ws.on('message', (data) => {
          const message = data.toString();
          replay.push(message);
          if (replay.length > REPLAY) replay.shift();
          for (const viewer of viewers) if (viewer.readyState === WebSocket.OPEN) viewer.send(message);
        });
        ws.once('close', () => publishers.delete(ws));
        return;
      }
      viewers.add(ws);
      ws.once('close', () => viewers.delete(ws));
      for (const message of replay) ws.send(message);
      // A viewer only listens: what it sends goes nowhere.
    });
  });

  await new Promise<void>((resolve, reject) => {
    const fail = (error: NodeJS.ErrnoException) => {
      const where = `${hostInUrl(host)}:${options.port}`;
      if (error.code === 'EADDRINUSE') reject(new InspectorRelayError(`another program listens on ${where}`, 'port-taken'));
      else if (error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND' || error.code === 'EAI_AGAIN') {
        reject(new InspectorRelayError(`cannot listen on ${where}: ${error.code} (no interface of this machine has that address)`, 'bad-host'));
      } else reject(new InspectorRelayError(`cannot listen on ${where}: ${error.message}`, 'other'));
    };
    server.once('error', fail);
    server.listen(options.port, host.replace(/^\[|\]$/g, ''), () => {
      server.off('error', fail);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  allowed = new Set(allowedInspectOrigins(host, address.port));
  // The orchestrator connects to the bound address (loopback for a wildcard bind).
  const own = isWildcard(address.address) ? (address.family === 'IPv6' ? '[::1]' : '127.0.0.1') : hostInUrl(address.address);
  const pageHost = isWildcard(host) || isLoopbackHost(host) ? hostInUrl(isLoopbackHost(host) ? address.address : '127.0.0.1') : hostInUrl(host);

  let stopped = false;
  return {
    address,
    publishUrl: `ws://${own}:${address.port}${publishPath}`,
    pageUrl: `http://${pageHost}:${address.port}`,
    allowedOrigins: [...allowed],
    stop() {
      if (stopped) return;
      stopped = true;
      for (const ws of [...viewers, ...publishers]) ws.terminate();
      wss.close();
      server.close();
      server.closeAllConnections();
    },
  };
}
