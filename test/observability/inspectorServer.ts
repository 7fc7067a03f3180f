import { createRequire } from 'node:module';
import type { StatelyInspectionEvent } from '@statelyai/inspect';

/**
 * The slice of the `ws` package this test uses. `ws` is installed as a
 * dependency of @statelyai/inspect, without type declarations, so it is
 * loaded through require and given this shape.
 */
interface WsSocket {
  on(event: 'message', listener: (data: { toString(): string }) => void): void;
  on(event: 'close', listener: () => void): void;
}
interface WsServer {
  on(event: 'connection', listener: (socket: WsSocket) => void): void;
  once(event: 'listening', listener: () => void): void;
  address(): { port: number };
  close(callback: () => void): void;
  clients: Set<{ terminate(): void }>;
}
const { WebSocketServer } = createRequire(import.meta.url)('ws') as {
  WebSocketServer: new (options: { host: string; port: number }) => WsServer;
};

/** A WebSocket endpoint on loopback that records what an inspector sends, decoded. */
export async function startInspectorServer() {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const events: StatelyInspectionEvent[] = [];
  let connections = 0;
  let closed = 0;
  server.on('connection', (socket) => {
    connections++;
    // The WebSocket adapter sends one JSON-encoded StatelyInspectionEvent per message.
    socket.on('message', (data) => events.push(JSON.parse(data.toString()) as StatelyInspectionEvent));
    socket.on('close', () => closed++);
  });
  return {
    url: `ws://127.0.0.1:${server.address().port}`,
    events,
    connections: () => connections,
    closed: () => closed,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const client of server.clients) client.terminate();
        server.close(() => resolve());
      }),
  };
}

/** Polls `check` every 10 ms until it returns true, failing after `ms` with `what`. */
export async function until(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
