import { createHash } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy between a client (a listener process) and Redis that injects
 * the faults a network does: a reply lost after its command ran, a proxy
 * killed (every connection reset, new ones refused) and restarted, and a
 * partition (nothing forwarded either way, connections left open).
 *
 * It reads the RESP the two sides speak (RESP2 and RESP3) to tell commands
 * and their replies apart: replies come in the order of the commands, so the
 * proxy counts them. A connection that subscribes is passed through as is
 * (its pushes are not replies).
 */
export interface FaultProxy {
  readonly url: string;
  readonly port: number;
  /**
   * The next command (on any connection) that `match` accepts is forwarded
   * to Redis; when Redis has answered it, its reply is thrown away and the
   * connection dropped (both sides), so the command ran but the client never
   * heard. Replies to the commands before it on that connection are
   * delivered. Resolves with the command once that happened.
   */
  loseReply(match: (args: Buffer[]) => boolean): Promise<Buffer[]>;
  /** Resets every connection and refuses new ones until restart(). */
  kill(): Promise<void>;
  restart(): Promise<void>;
  /**
   * Forwards nothing, either way, for `ms` (open connections stay open, new
   * ones are accepted and held), then forwards what was held. With `drop`,
   * ends every connection at the heal instead (the client reconnects).
   */
  partition(ms: number, o?: { drop?: boolean }): Promise<void>;
  /** Starts a partition that lasts until heal(). */
  cut(): void;
  /** Ends the partition: forwards what was held, or (`drop`) ends every connection instead. */
  heal(o?: { drop?: boolean }): void;
  /** Commands forwarded, replies lost, connections made. */
  readonly stats: { commands: number; lost: number; connections: number };
  close(): Promise<void>;
}

/** Length of the RESP value at `at` in `buf` (RESP2 and RESP3), or -1 when it is not all there yet. */
export function respLength(buf: Buffer, at = 0): number {
  if (at >= buf.length) return -1;
  const eol = buf.indexOf('\r\n', at);
  if (eol === -1) return -1;
  const type = String.fromCharCode(buf[at]!);
  const head = buf.toString('latin1', at + 1, eol);
  const afterHead = eol + 2;
  switch (type) {
    case '+': case '-': case ':': case '_': case ',': case '#': case '(':
      return afterHead - at;
    case '$': case '!': case '=': {
      const n = Number(head);
      if (n < 0) return afterHead - at;
      return buf.length >= afterHead + n + 2 ? afterHead + n + 2 - at : -1;
    }
    case '*': case '~': case '>': case '%': case '|': {
      const n = Number(head);
      if (n < 0) return afterHead - at;
      let pos = afterHead;
      const items = type === '%' || type === '|' ? 2 * n : n;
      for (let i = 0; i < items; i++) {
        const len = respLength(buf, pos);
        if (len === -1) return -1;
        pos += len;
      }
      if (type === '|') {
        // An attribute comes before the reply it describes: both are one unit.
        const len = respLength(buf, pos);
        return len === -1 ? -1 : pos + len - at;
      }
      return pos - at;
    }
    default:
      throw new Error(`faultProxy: not RESP at byte ${at}: ${JSON.stringify(buf.toString('latin1', at, at + 40))}`);
  }
}

/** The arguments of a command as a client sends it (`*N` of bulk strings). */
function commandArgs(buf: Buffer): Buffer[] {
  const args: Buffer[] = [];
  let eol = buf.indexOf('\r\n');
  const n = Number(buf.toString('latin1', 1, eol));
  let pos = eol + 2;
  for (let i = 0; i < n; i++) {
    eol = buf.indexOf('\r\n', pos);
    const len = Number(buf.toString('latin1', pos + 1, eol));
    args.push(buf.subarray(eol + 2, eol + 2 + len));
    pos = eol + 2 + len + 2;
  }
  return args;
}

/** A matcher for the calls of one Lua script (EVALSHA by its sha, or EVAL of its text), optionally with more conditions. */
export function scriptCall(script: { sha: string }, and: (args: Buffer[]) => boolean = () => true) {
  return (args: Buffer[]): boolean => {
    const name = args[0]?.toString('latin1').toLowerCase();
    const sha =
      name === 'evalsha' ? args[1]?.toString('latin1') : name === 'eval' ? createHash('sha1').update(args[1] ?? '').digest('hex') : undefined;
    return sha === script.sha && and(args);
  };
}

interface Link {
  client: Socket;
  server: Socket;
  /** One entry per command forwarded and not answered yet: whether its reply is to be lost. */
  expected: { lose?: (args: Buffer[]) => void; args: Buffer[] }[];
  passThrough: boolean;
  fromClient: Buffer;
  fromServer: Buffer;
  held: boolean;
}

export async function startFaultProxy(target: { host: string; port: number }, port = 0): Promise<FaultProxy> {
  const links = new Set<Link>();
  const stats = { commands: 0, lost: 0, connections: 0 };
  const armed: { match: (args: Buffer[]) => boolean; done: (args: Buffer[]) => void }[] = [];
  let partitioned = false;
  let server: Server | undefined;

  const end = (l: Link) => {
    links.delete(l);
    l.client.destroy();
    l.server.destroy();
  };

  const pumpClient = (l: Link) => {
    if (l.held) return;
    const out: Buffer[] = [];
    for (;;) {
      if (l.passThrough) {
        if (l.fromClient.length) out.push(l.fromClient);
        l.fromClient = Buffer.alloc(0);
        break;
      }
      const len = respLength(l.fromClient);
      if (len === -1) break;
      const bytes = l.fromClient.subarray(0, len);
      l.fromClient = l.fromClient.subarray(len);
      const args = commandArgs(bytes);
      const name = args[0]?.toString('latin1').toLowerCase() ?? '';
      if (name.endsWith('subscribe')) l.passThrough = true;
      const rule = l.passThrough ? -1 : armed.findIndex((a) => a.match(args));
      const lose = rule === -1 ? undefined : armed.splice(rule, 1)[0]!.done;
      l.expected.push({ args, ...(lose ? { lose } : {}) });
      stats.commands++;
      out.push(bytes);
    }
    if (out.length) l.server.write(Buffer.concat(out));
  };

  const pumpServer = (l: Link) => {
    if (l.held) return;
    const out: Buffer[] = [];
    for (;;) {
      if (l.passThrough && !l.expected.some((e) => e.lose)) {
        if (l.fromServer.length) out.push(l.fromServer);
        l.fromServer = Buffer.alloc(0);
        break;
      }
      const len = respLength(l.fromServer);
      if (len === -1) break;
      const bytes = l.fromServer.subarray(0, len);
      l.fromServer = l.fromServer.subarray(len);
      if (bytes[0] === 0x3e) {
        out.push(bytes); // a push: not a reply to any command
        continue;
      }
      const e = l.expected.shift();
      if (e?.lose) {
        // It ran; the client never hears of it.
        if (out.length) l.client.write(Buffer.concat(out));
        stats.lost++;
        l.client.end();
        end(l);
        e.lose(e.args);
        return;
      }
      out.push(bytes);
    }
    if (out.length) l.client.write(Buffer.concat(out));
  };

  const accept = (client: Socket) => {
    stats.connections++;
    const upstream = connect(target.port, target.host);
    const l: Link = { client, server: upstream, expected: [], passThrough: false, fromClient: Buffer.alloc(0), fromServer: Buffer.alloc(0), held: partitioned };
    links.add(l);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    client.on('data', (chunk: Buffer) => {
      l.fromClient = l.fromClient.length ? Buffer.concat([l.fromClient, chunk]) : chunk;
      pumpClient(l);
    });
    upstream.on('data', (chunk: Buffer) => {
      l.fromServer = l.fromServer.length ? Buffer.concat([l.fromServer, chunk]) : chunk;
      pumpServer(l);
    });
    for (const s of [client, upstream]) {
      s.on('error', () => end(l));
      s.on('close', () => end(l));
    }
  };

  const listen = (p: number) =>
    new Promise<Server>((resolve, reject) => {
      const s = createServer(accept);
      s.once('error', reject);
      s.listen(p, '127.0.0.1', () => resolve(s));
    });

  server = await listen(port);
  const boundPort = (server.address() as { port: number }).port;

  const stopListening = () =>
    new Promise<void>((resolve) => {
      const s = server;
      server = undefined;
      if (!s) return resolve();
      s.close(() => resolve());
    });

  const cut = () => {
    partitioned = true;
    for (const l of links) l.held = true;
  };
  const heal = (o: { drop?: boolean } = {}) => {
    partitioned = false;
    for (const l of [...links]) {
      if (o.drop) {
        end(l);
        continue;
      }
      l.held = false;
      pumpClient(l);
      pumpServer(l);
    }
  };

  const kill = async () => {
    const closing = stopListening();
    for (const l of [...links]) {
      l.client.resetAndDestroy();
      end(l);
    }
    await closing;
  };

  return {
    url: `redis://127.0.0.1:${boundPort}`,
    port: boundPort,
    stats,
    loseReply: (match) => new Promise((done) => armed.push({ match, done })),
    kill,
    async restart() {
      if (!server) server = await listen(boundPort);
    },
    cut,
    heal,
    async partition(ms, o = {}) {
      cut();
      await new Promise((r) => setTimeout(r, ms));
      heal(o);
    },
    close: kill,
  };
}
