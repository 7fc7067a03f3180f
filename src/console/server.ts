import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import { taskMachine } from '../../machines/task.machine.ts';
import { readOverview } from '../client/overview.ts';
import { ConfigError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { Keys } from '../protocol/keys.ts';
import { cancelTask } from '../client/cancel.ts';
import { AmbiguousTaskIdError, resolveTaskId } from '../client/resolveTaskId.ts';
import { DeadLetterGoneError, InvalidRequeueError, discardDeadLetter, readDeadLetters, requeueDeadLetter } from '../redis/deadLetters.ts';
import { TOKEN_COOKIE, hostAllowed, newSecret, presentedToken, sameSecret } from './access.ts';
import { readFinished } from './finished.ts';
import { machineSvg } from '../diagrams/machineSvg.ts';
import { ambiguousPage, overviewPage, taskPage, tasksPage } from './pages.ts';
import { readTaskDetail } from './taskDetail.ts';
import { listTasks, TASK_STATES, type TaskState } from './tasks.ts';
import { OrchestratorError } from '../errors.ts';

export interface ConsoleServerOptions {
  /** Reads (and the actions' writes). */
  redis: Redis;
  /** A second connection for PSUBSCRIBE: results arrive on `results:{id}` channels. */
  subscriber: Redis;
  keys: Keys;
  domain: string;
  /** 0 picks a free port (tests). */
  port: number;
  host: string;
  /** When set, every request must carry it (Bearer header, `?token=` once, then the cookie). */
  token: string | undefined;
  /** How often live pages are refreshed from Redis. Default 500 ms, as `watch`. */
  pollMs?: number;
  /** Agent id the console's cancels are published under. */
  agentId: string;
  logger?: Logger;
}

export interface ConsoleServer {
  /** e.g. http://127.0.0.1:8788 */
  readonly url: string;
  /** Ends the live streams and stops listening; a second call returns the first one's promise. */
  close(): Promise<void>;
}

const STATIC_DIR = join(dirname(fileURLToPath(import.meta.url)), 'static');
const STATIC: Record<string, { type: string; body: Buffer }> = Object.fromEntries(
  [
    ['console.js', 'text/javascript; charset=utf-8'],
    ['console.css', 'text/css; charset=utf-8'],
    ['favicon.svg', 'image/svg+xml'],
  ].map(([name, type]) => [name, { type: type!, body: readFileSync(join(STATIC_DIR, name!)) }]),
);

/** Scripts and styles from this server only; nothing inline, nothing from elsewhere. */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

const MAX_BODY = 1024 * 1024;

class HttpError extends OrchestratorError {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, ...headers });
  res.end(body);
}
const json = (res: ServerResponse, status: number, body: unknown) => send(res, status, 'application/json; charset=utf-8', `${JSON.stringify(body)}\n`);

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  if (!(req.headers['content-type'] ?? '').startsWith('application/json')) throw new HttpError(415, 'send the body as application/json');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new HttpError(413, `the body is larger than ${MAX_BODY} bytes`);
    chunks.push(chunk);
  }
  try {
    const value: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // answered below
  }
  throw new HttpError(400, 'the body is not a JSON object');
}

const field = (body: Record<string, unknown>, name: string): string => {
  const v = body[name];
  if (typeof v !== 'string' || v.length === 0) throw new HttpError(400, `"${name}" must be a non-empty string`);
  return v;
};

const PAGE_SIZES = [25, 50, 100];

/** `/api/tasks?state=failed&q=blog&offset=50&limit=25`, checked: a wrong value is a 400 that says what is allowed. */
function taskQuery(url: URL): { state: TaskState | undefined; q: string | undefined; offset: number; limit: number } {
  const state = url.searchParams.get('state') || undefined;
  if (state !== undefined && !(TASK_STATES as readonly string[]).includes(state)) throw new HttpError(400, `state must be one of ${TASK_STATES.join(', ')} (or left out for all)`);
  const offset = Number(url.searchParams.get('offset') ?? 0);
  if (!Number.isInteger(offset) || offset < 0 || offset > 100_000) throw new HttpError(400, 'offset must be a whole number from 0 to 100000');
  const limit = Number(url.searchParams.get('limit') ?? 25);
  if (!PAGE_SIZES.includes(limit)) throw new HttpError(400, `limit must be one of ${PAGE_SIZES.join(', ')}`);
  const q = url.searchParams.get('q')?.slice(0, 200) || undefined;
  return { state: state as TaskState | undefined, q, offset, limit };
}

/** Redis that does not answer: the page says so instead of freezing on the last frame. */
class RedisSilentError extends OrchestratorError {}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RedisSilentError(`Redis did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

interface Stream {
  res: ServerResponse;
  /** undefined: the overview; otherwise the task id. */
  taskId: string | undefined;
}

/**
 * The web console: an overview of the domain and a page per task, live over
 * server-sent events, read from Redis only (like `watch`, so it follows every
 * instance), with cancel and dead-letter actions as POSTs carrying a CSRF
 * token. Pages, scripts and styles come from this server; no build step, no
 * internet.
 */
export async function startConsoleServer(o: ConsoleServerOptions): Promise<ConsoleServer> {
  const csrf = newSecret();
  const pollMs = o.pollMs ?? 500;
  const svg = machineSvg(taskMachine);
  const streams = new Set<Stream>();
  const detail = (taskId: string) => readTaskDetail(o.redis, o.keys, taskId);

  // Finished tasks come from the tasks index every instance writes as it publishes: they do not depend on when the console started.
  const overview = async () => {
    const [view, dead, finished] = await Promise.all([readOverview(o.redis, o.keys, o.domain), readDeadLetters(o.redis, o.keys), readFinished(o.redis, o.keys, Date.now())]);
    return { ...view, deadLetters: dead, finished };
  };

  // A result published anywhere refreshes the open pages at once instead of at the next poll (the index says which are ours).
  // Not awaited: the console serves (and says Redis is away) while Redis is down; ioredis subscribes when it is back.
  o.subscriber.psubscribe(o.keys.resultsPattern).catch((error: unknown) => o.logger?.warn({ err: error }, 'console: cannot subscribe to results'));
  o.subscriber.on('pmessage', () => {
    if (streams.size > 0) void tick();
  });

  let ticking: Promise<void> | undefined;
  const frame = async (): Promise<void> => {
    const wanted = new Set([...streams].map((s) => s.taskId ?? ''));
    const frames = new Map<string, string>();
    for (const id of wanted) {
      try {
        const read: Promise<unknown> = id === '' ? overview() : detail(id).then((d) => d ?? { taskId: id, state: 'unknown', missing: true });
        const data = await withTimeout(read, Math.max(2000, pollMs * 4));
        frames.set(id, `event: ${id === '' ? 'overview' : 'task'}\ndata: ${JSON.stringify(data)}\n\n`);
      } catch (error) {
        frames.set(id, `event: problem\ndata: ${JSON.stringify({ message: error instanceof Error ? error.message : String(error) })}\n\n`);
      }
    }
    for (const s of streams) s.res.write(frames.get(s.taskId ?? '') ?? '');
  };
  // Cleared in a later microtask: with no stream open, frame() finishes at once, and
  // clearing it inside would run before the assignment and leave a settled promise
  // that stops every later tick.
  const tick = (): Promise<void> => (ticking ??= frame().finally(() => (ticking = undefined)));
  const timer = setInterval(() => {
    if (streams.size > 0 && !ticking) void tick();
  }, pollMs);

  const stream = (req: IncomingMessage, res: ServerResponse, taskId: string | undefined) => {
    res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream; charset=utf-8', connection: 'keep-alive' });
    res.write(`retry: 1000\n\n`);
    const s: Stream = { res, taskId };
    streams.add(s);
    // The response's close: the request's own can come as soon as its (empty) body is read.
    res.on('close', () => streams.delete(s));
    void tick();
  };

  const route = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const path = url.pathname;
    const taskMatch = /^\/(?:api\/task|task|events\/task)\/([^/]{1,200})(\/cancel)?$/.exec(path);
    const typed = taskMatch ? decodeURIComponent(taskMatch[1]!) : undefined;
    // A prefix of an id (as `demo` and `watch` print it) names the task; an ambiguous one is answered 409 with its
    // matches (a page of links to them for the task page, JSON for the API).
    let taskId: string | undefined;
    try {
      taskId = typed === undefined ? undefined : await resolveTaskId(o.redis, o.keys, typed);
    } catch (error) {
      if (error instanceof AmbiguousTaskIdError && req.method === 'GET' && path.startsWith('/task/')) {
        return send(res, 409, 'text/html; charset=utf-8', ambiguousPage({ domain: o.domain, csrf, prefix: error.prefix, matches: error.matches }));
      }
      throw error;
    }
    if (taskId !== undefined && taskId !== typed && req.method === 'GET' && path.startsWith('/task/')) {
      return send(res, 303, 'text/plain; charset=utf-8', '', { location: `/task/${encodeURIComponent(taskId)}` });
    }
    if (req.method === 'GET') {
      if (path === '/') return send(res, 200, 'text/html; charset=utf-8', overviewPage({ domain: o.domain, csrf }));
      if (path === '/tasks') return send(res, 200, 'text/html; charset=utf-8', tasksPage({ domain: o.domain, csrf }));
      if (path === '/favicon.ico') return send(res, 200, STATIC['favicon.svg']!.type, STATIC['favicon.svg']!.body);
      if (path === '/api/tasks') return json(res, 200, await listTasks(o.redis, o.keys, taskQuery(url)));
      if (path.startsWith('/static/')) {
        const file = STATIC[path.slice('/static/'.length)];
        if (file) return send(res, 200, file.type, file.body);
      }
      if (path === '/api/overview') return json(res, 200, await overview());
      if (path === '/events') return stream(req, res, undefined);
      if (taskId !== undefined && !taskMatch?.[2]) {
        if (path.startsWith('/task/')) return send(res, 200, 'text/html; charset=utf-8', taskPage({ domain: o.domain, csrf, taskId, svg }));
        if (path.startsWith('/events/')) return stream(req, res, taskId);
        const d = await detail(taskId);
        return d ? json(res, 200, d) : json(res, 404, { error: `no task ${taskId} in Redis (never seen, or its results record is gone)` });
      }
      throw new HttpError(404, `nothing at ${path}`);
    }
    if (req.method !== 'POST') throw new HttpError(405, `${req.method} is not served here`);
    // Another site can make a browser POST here but cannot read a page to learn this token.
    if (!sameSecret(req.headers['x-csrf-token'] as string | undefined, csrf)) throw new HttpError(403, 'missing or wrong CSRF token: reload the page');
    if (taskId !== undefined && taskMatch?.[2] && path.startsWith('/api/task/')) {
      const body = await readJson(req);
      const reason = typeof body.reason === 'string' && body.reason.trim() ? body.reason.trim().slice(0, 500) : 'cancelled';
      const where = await cancelTask(o.redis, o.keys, o.agentId, taskId, reason);
      if (where === 'unknown') throw new HttpError(409, `task ${taskId} is neither queued nor running: nothing to cancel`);
      if (typeof where === 'object') throw new HttpError(409, `task ${taskId} already ${where.finished.status}: nothing to cancel`);
      return json(res, 200, { cancelled: where });
    }
    if (path === '/api/dead-letters/requeue') {
      const body = await readJson(req);
      return json(res, 200, await requeueDeadLetter(o.redis, o.keys, field(body, 'entry'), field(body, 'raw')));
    }
    if (path === '/api/dead-letters/discard') {
      const body = await readJson(req);
      await discardDeadLetter(o.redis, o.keys, field(body, 'entry'));
      return json(res, 200, { discarded: true });
    }
    throw new HttpError(404, `nothing to POST at ${path}`);
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://console.invalid');
    if (!hostAllowed(req, o.host)) return send(res, 421, 'text/plain; charset=utf-8', 'this console answers to 127.0.0.1 and localhost only\n');
    if (o.token !== undefined) {
      const { token, viaQuery } = presentedToken(req, url);
      if (!sameSecret(token, o.token)) {
        return send(res, 401, 'text/plain; charset=utf-8', 'this console needs its token: open it once with ?token=<token>, or send Authorization: Bearer <token>\n', {
          'www-authenticate': 'Bearer',
        });
      }
      if (viaQuery && req.method === 'GET') {
        // The cookie carries the token from now on (EventSource cannot send headers); the address bar drops it.
        url.searchParams.delete('token');
        return send(res, 303, 'text/plain; charset=utf-8', '', {
          location: `${url.pathname}${url.search}`,
          'set-cookie': `${TOKEN_COOKIE}=${encodeURIComponent(o.token)}; HttpOnly; SameSite=Strict; Path=/`,
        });
      }
    }
    route(req, res, url).catch((error: unknown) => {
      const status =
        error instanceof HttpError
          ? error.status
          : error instanceof InvalidRequeueError
            ? 422
            : error instanceof DeadLetterGoneError || error instanceof AmbiguousTaskIdError
              ? 409
              : 500;
      if (status === 500) o.logger?.error({ err: error }, 'console request failed');
      if (res.headersSent) return void res.end();
      json(res, status, { error: error instanceof Error ? error.message : String(error), ...(error instanceof AmbiguousTaskIdError ? { matches: error.matches } : {}) });
    });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(o.port, o.host, () => resolve());
    });
  } catch (error) {
    clearInterval(timer);
    throw (error as NodeJS.ErrnoException).code === 'EADDRINUSE'
      ? new ConfigError(`--port ${o.port}: another program listens on ${o.host}:${o.port}; choose another port (or 0 for a free one)`)
      : error;
  }
  const { port } = server.address() as AddressInfo;
  const shownHost = o.host.includes(':') ? `[${o.host}]` : o.host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${shownHost}:${port}`,
    close: () =>
      (closing ??= (async () => {
        clearInterval(timer);
        for (const s of streams) s.res.end();
        streams.clear();
        // Not awaited: with Redis away it would wait for a reconnect that may never come.
        o.subscriber.punsubscribe().catch(() => undefined);
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      })()),
  };
}
