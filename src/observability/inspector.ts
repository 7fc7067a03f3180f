import { connect } from 'node:net';
import type { InspectionEvent } from 'xstate';
import { ConfigError } from '../config.ts';

export interface Inspection {
  /** Pass as `createActor(machine, { inspect })`: every actor of the system is reported. */
  inspect: (event: InspectionEvent) => void;
  /** Closes the connection; events after it are dropped. Safe to call twice. */
  stop(): void;
  /** One line for the start-up log: where the events go. */
  description: string;
}

export interface InspectionOptions {
  /** How long a `ws://` target may take to accept the connection. Default 5000. */
  connectTimeoutMs?: number;
}

/**
 * The inspector keeps this many events while it connects (the library's
 * default is 200, fewer than one task's start-up produces).
 */
const MAX_DEFERRED_EVENTS = 2000;

/** Rejects anything but ws:// and wss:// with the fix in the message. */
export function parseInspectTarget(target: string): URL {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    throw new ConfigError(`inspect target "${target}" is not a URL: use ws://host:port (a local inspector server) or true for the hosted Stately inspector`);
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw new ConfigError(`inspect target "${target}" uses ${url.protocol} but the inspector speaks WebSocket: use ws://host:port or wss://host:port`);
  }
  return url;
}

/** A TCP check first: a typo fails at start-up, not as a silent reconnect loop in the background. */
function reachable(url: URL, timeoutMs: number): Promise<void> {
  const port = Number(url.port || (url.protocol === 'wss:' ? 443 : 80));
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, timeout: timeoutMs });
    const fail = (why: string) => {
      socket.destroy();
      reject(new ConfigError(`cannot reach the inspector at ${url.href} (${why}): start an inspector server there first, or drop the inspect option`));
    };
    socket.once('connect', () => {
      socket.end();
      resolve();
    });
    socket.once('timeout', () => fail(`no answer within ${timeoutMs} ms`));
    socket.once('error', (error: NodeJS.ErrnoException) => fail(error.code ?? error.message));
  });
}

/**
 * @statelyai/inspect 0.7.2 has no "connected" signal, and its WebSocket
 * adapter retries every 5 s forever after a connection error, even after
 * stop(), which closing a still-connecting socket triggers. Waiting for its
 * (private) status to be open before handing the inspector out means stop()
 * always closes an open socket cleanly. If the field is gone (a newer
 * version), there is nothing to wait on.
 */
async function opened(adapter: unknown, timeoutMs: number, href: string): Promise<void> {
  const status = () => (adapter as { status?: unknown }).status;
  const deadline = Date.now() + timeoutMs;
  while (status() !== undefined && status() !== 'open') {
    if (Date.now() > deadline) {
      throw new ConfigError(`the inspector at ${href} accepted TCP but no WebSocket within ${timeoutMs} ms: is it an inspector server?`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

function wrap(inspector: { inspect: { next?: (event: InspectionEvent) => void }; stop(): void }, description: string): Inspection {
  let stopped = false;
  return {
    inspect: (event) => {
      if (!stopped) inspector.inspect.next?.(event);
    },
    stop() {
      if (stopped) return;
      stopped = true;
      inspector.stop();
    },
    description,
  };
}

/**
 * Streams every actor's events and snapshots to a Stately inspector.
 * `ws://host:port` sends them to a local WebSocket endpoint (for instance
 * `createInspectorServer` from `@statelyai/inspect/server`); `true` uses the
 * hosted Stately Sky inspector, which needs the internet, prints its live
 * link when connected, and sends task contents off this machine. The
 * library is ESM-only and loaded here, so it costs nothing when inspection
 * is off.
 *
 * @example
 * const inspection = await createInspection('ws://127.0.0.1:8080');
 * const actor = createActor(machine, { inspect: inspection.inspect });
 */
export async function createInspection(target: string | true, options: InspectionOptions = {}): Promise<Inspection> {
  const timeoutMs = options.connectTimeoutMs ?? 5000;
  if (target === true) {
    const { createSkyInspector } = await import('@statelyai/inspect');
    // Its socket is not exposed: stop() cannot close it, so a process that inspects via Sky must exit explicitly.
    const inspector = createSkyInspector({ maxDeferredEvents: MAX_DEFERRED_EVENTS });
    return wrap(inspector, 'Stately Sky inspector (hosted, needs the internet); its live link is printed when it connects');
  }
  const url = parseInspectTarget(target);
  await reachable(url, timeoutMs);
  const { createWebSocketInspector } = await import('@statelyai/inspect');
  const inspector = createWebSocketInspector({ url: url.href, maxDeferredEvents: MAX_DEFERRED_EVENTS });
  try {
    await opened(inspector.adapter, timeoutMs, url.href);
  } catch (error) {
    inspector.stop();
    throw error;
  }
  return wrap(inspector, `Stately inspector events to ${url.href}`);
}
