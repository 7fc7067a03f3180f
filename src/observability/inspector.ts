import { connect } from 'node:net';
import type { StatelyInspectionEvent } from '@statelyai/inspect';
import type { AnyEventObject, InspectionEvent, MachineContext } from 'xstate';
import { ConfigError } from '../errors.ts';
import { InspectorRelayError, isLoopbackHost, startInspectorRelay, DEFAULT_INSPECT_HOST, STATELY_INSPECTOR_URL } from './inspectorRelay.ts';
import { redact } from './redact.ts';
import { DEFAULT_INSPECT_PORT } from '../optionDefaults.ts';

export interface Inspection {
  /** Pass as `createActor(machine, { inspect })`: every actor of the system is reported. */
  inspect: (event: InspectionEvent) => void;
  /** Closes the connection; events after it are dropped. Safe to call twice. */
  stop(): void;
  /** One line for the start-up log: where the events go. */
  description: string;
  /** The page to open in a browser, for the local relay. */
  openUrl?: string;
  /** Said once at start-up when task contents leave this machine. */
  warning?: string;
  /** The local relay: where it listens and the page origins it accepts WebSocket connections from. */
  relay?: { address: string; port: number; allowedOrigins: readonly string[] };
}

export interface InspectionOptions {
  /** How long a `ws://` target may take to accept the connection. Default 5000. */
  connectTimeoutMs?: number;
  /** Port of the local relay (`--inspect` without a URL). Default DEFAULT_INSPECT_PORT, the schema's inspectPort. */
  localPort?: number;
  /** Address the local relay binds (`--inspect-host`). Default 127.0.0.1: this machine only. */
  localHost?: string;
  /** Told the Origin of each browser page the local relay refused (the listener logs it). */
  onRefusedOrigin?: (origin: string) => void;
  /** Send prompts, task text and model output too (`--inspect-full`). Default false: they are redacted. */
  full?: boolean;
}

/** The local relay's port when none is given. */
export { DEFAULT_INSPECT_PORT };

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
    throw new ConfigError(
      `inspect target "${target}" is not a URL: use ws://host:port (an inspector server), sky for the hosted Stately inspector, or no value for the local relay`,
    );
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

function wrap(
  inspector: { inspect: { next?: (event: InspectionEvent) => void }; stop(): void },
  description: string,
  extra: { openUrl?: string; warning?: string; relay?: Inspection['relay']; onStop?: () => void } = {},
): Inspection {
  let stopped = false;
  return {
    inspect: (event) => {
      if (!stopped) inspector.inspect.next?.(event);
    },
    stop() {
      if (stopped) return;
      stopped = true;
      inspector.stop();
      extra.onStop?.();
    },
    description,
    ...(extra.openUrl ? { openUrl: extra.openUrl } : {}),
    ...(extra.warning ? { warning: extra.warning } : {}),
    ...(extra.relay ? { relay: extra.relay } : {}),
  };
}

/**
 * The inspector's own sanitizers for contexts and events, and a last pass
 * over promise actors' input and output (the planner's and agents' input is
 * the task and the prompt; their output what the model wrote), which the
 * sanitizers do not reach.
 */
function sanitizers(full: boolean) {
  if (full) return {};
  return {
    sanitizeContext: (context: MachineContext) => redact(context) as MachineContext,
    sanitizeEvent: (event: AnyEventObject) => redact(event) as AnyEventObject,
    serialize: (event: StatelyInspectionEvent): StatelyInspectionEvent => {
      const snapshot = 'snapshot' in event ? (event.snapshot as Record<string, unknown> | undefined) : undefined;
      if (!snapshot || typeof snapshot !== 'object' || !('input' in snapshot || 'output' in snapshot)) return event;
      return { ...event, snapshot: { ...snapshot, input: redact(snapshot.input), output: redact(snapshot.output) } } as unknown as StatelyInspectionEvent;
    },
  };
}

async function connectWebSocket(url: URL, timeoutMs: number, full: boolean) {
  const { createWebSocketInspector } = await import('@statelyai/inspect');
  const inspector = createWebSocketInspector({ url: url.href, maxDeferredEvents: MAX_DEFERRED_EVENTS, ...sanitizers(full) });
  try {
    await opened(inspector.adapter, timeoutMs, url.href);
  } catch (error) {
    inspector.stop();
    throw error;
  }
  return inspector;
}

/**
 * Streams every actor's events and snapshots to a Stately inspector.
 * `true` (or `local`) starts the local relay (inspectorRelay.ts: bound to
 * 127.0.0.1 unless `localHost` says otherwise, refusing browser pages of
 * other origins, not opened automatically) and sends there: open its page
 * in a browser. `ws://host:port` sends to any WebSocket
 * endpoint. `sky` uses the hosted Stately Sky inspector, which needs the
 * internet and sends task contents off this machine. Prompts, task text,
 * model output and secrets are redacted unless `full`. The library is
 * ESM-only and loaded here, so it costs nothing when inspection is off.
 *
 * @example
 * const inspection = await createInspection(true, { localPort: 8787 });
 * console.log(`open ${inspection.openUrl}`);
 * const actor = createActor(machine, { inspect: inspection.inspect });
 */
export async function createInspection(target: string | true, options: InspectionOptions = {}): Promise<Inspection> {
  const timeoutMs = options.connectTimeoutMs ?? 5000;
  const full = options.full ?? false;
  const redaction = full ? 'prompts and task contents included (--inspect-full)' : 'prompts, task text and secrets redacted';
  if (target === 'sky') {
    const { createSkyInspector } = await import('@statelyai/inspect');
    // Its socket is not exposed: stop() cannot close it, so a process that inspects via Sky must exit explicitly.
    const inspector = createSkyInspector({ maxDeferredEvents: MAX_DEFERRED_EVENTS, ...sanitizers(full) });
    return wrap(inspector, `Stately Sky inspector (hosted, needs the internet; ${redaction}); its live link is printed when it connects`, {
      warning: `--inspect sky sends every task's actor events to stately.ai, off this machine (${redaction}); --inspect without a value keeps them local`,
    });
  }
  if (target === true || target === 'local') {
    const port = options.localPort ?? DEFAULT_INSPECT_PORT;
    const host = options.localHost ?? DEFAULT_INSPECT_HOST;
    const relay = await startInspectorRelay({ host, port, ...(options.onRefusedOrigin ? { onRefused: options.onRefusedOrigin } : {}) }).catch((error: unknown) => {
      if (!(error instanceof InspectorRelayError)) throw error;
      throw new ConfigError(
        error.code === 'port-taken'
          ? `--inspect-port ${port}: ${error.message}; choose another port for the local inspector relay`
          : error.code === 'bad-host'
            ? `--inspect-host ${host}: ${error.message}; give an address of this machine (default ${DEFAULT_INSPECT_HOST})`
            : `--inspect-host ${host} --inspect-port ${port}: the local inspector relay ${error.message}`,
      );
    });
    try {
      const inspector = await connectWebSocket(new URL(relay.publishUrl), timeoutMs, full);
      const where = `${relay.address.family === 'IPv6' ? `[${relay.address.address}]` : relay.address.address}:${relay.address.port}`;
      const local = isLoopbackHost(host);
      return wrap(inspector, `local Stately inspector relay on ${where}${local ? ' (this machine only)' : ''} (${redaction}); its page embeds ${STATELY_INSPECTOR_URL} and accepts browser connections from ${relay.allowedOrigins.join(', ')} only`, {
        openUrl: relay.pageUrl,
        ...(local
          ? {}
          : {
              warning: `--inspect-host ${host}: the inspector relay listens on ${where}, so anyone who can reach that address can read the actors' events (${redaction}); without --inspect-host it listens on ${DEFAULT_INSPECT_HOST} only`,
            }),
        relay: { address: relay.address.address, port: relay.address.port, allowedOrigins: relay.allowedOrigins },
        onStop: () => relay.stop(),
      });
    } catch (error) {
      relay.stop();
      throw error;
    }
  }
  const url = parseInspectTarget(target);
  await reachable(url, timeoutMs);
  return wrap(await connectWebSocket(url, timeoutMs, full), `Stately inspector events to ${url.href} (${redaction})`);
}
