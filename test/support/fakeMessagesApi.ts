import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Anthropic from '@anthropic-ai/sdk';
import { checkRequest, signThinking } from './messagesRules.ts';

/** A block of an answer; a thinking block gets the signature the strict rules check (tied to the model and its text). */
export type FakeBlock =
  | { type: 'text'; text: string }
  | { type: 'tool_use'; id?: string; name: string; input: unknown }
  | { type: 'thinking'; thinking: string };

/** A successful answer; omitted fields get plausible defaults. */
export interface FakeMessage {
  content: FakeBlock[];
  stop_reason?: Anthropic.Messages.StopReason;
  usage?: Partial<Record<'input_tokens' | 'output_tokens' | 'cache_read_input_tokens' | 'cache_creation_input_tokens', number>>;
  model?: string;
  /** With stop_reason `refusal`: the category (stop_details). */
  refusalCategory?: Anthropic.Messages.RefusalStopDetails['category'];
  /** Response headers, e.g. `anthropic-ratelimit-requests-remaining`. */
  headers?: Record<string, string>;
}
/** An HTTP error, e.g. `{ status: 429, headers: { 'retry-after': '0.01' } }`; the body defaults to the API's error shape. */
export interface FakeError {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}
/** Starts the answer (headers and message_start when streaming) and never finishes it. */
export interface FakeStall {
  stall: true;
}
export type FakeResponse = FakeMessage | FakeError | FakeStall;
export type FakeResponder = FakeResponse | ((request: RecordedRequest) => FakeResponse | Promise<FakeResponse>);

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Anthropic.Messages.MessageCreateParams;
  stream: boolean;
  /** Resolves when the connection of this request closes (the answer ended, or the client went away). */
  closed: Promise<void>;
}

export interface FakeMessagesApiOptions {
  /** Answers a request when the queue is empty (instead of the 500 that names an unexpected request). */
  fallback?: FakeResponder;
  /** Requests served at once; one more is answered 429 at once, as the API's concurrency limit does. */
  maxConcurrent?: number;
  /** Time a successful answer takes (ms), so requests overlap. */
  latencyMs?: number;
  /** Each answer takes latencyMs ± up to this much more or less (uniform), as real ones vary. */
  latencyJitterMs?: number;
  /**
   * Enforce the documented request rules of the model each request names
   * (./messagesRules.ts): a request that breaks one is answered 400, as the
   * API does, and listed in `refused`; the queue is left as it was.
   */
  strict?: boolean;
}

export interface FakeMessagesApi {
  /** Base URL for the SDK (`baseURL`). */
  readonly url: string;
  readonly requests: RecordedRequest[];
  enqueue(...responses: FakeResponder[]): void;
  /** Responses queued and not yet served. */
  pending(): number;
  /**
   * From now for `ms`, every request is answered with this error (queue untouched): a 429 storm or a
   * 529 spell. Resolves when the spell is over.
   */
  spell(ms: number, error: FakeError): Promise<void>;
  /** Requests being answered right now, and the most there ever were at once. */
  inFlight(): number;
  readonly stats: { maxInFlight: number; byStatus: Map<number, number>; duringSpell: number };
  /** With `strict`: why each refused request was refused, in order. */
  readonly refused: string[];
  close(): Promise<void>;
}

const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error', 401: 'authentication_error', 403: 'permission_error', 404: 'not_found_error',
  408: 'timeout_error', 409: 'conflict_error', 429: 'rate_limit_error', 500: 'api_error', 529: 'overloaded_error',
};

let ids = 0;

function usageOf(m: FakeMessage) {
  return {
    input_tokens: m.usage?.input_tokens ?? 10,
    output_tokens: m.usage?.output_tokens ?? 5,
    cache_creation_input_tokens: m.usage?.cache_creation_input_tokens ?? 0,
    cache_read_input_tokens: m.usage?.cache_read_input_tokens ?? 0,
    cache_creation: null, inference_geo: null, output_tokens_details: null, server_tool_use: null,
    service_tier: 'standard', speed: null,
  };
}

function block(b: FakeBlock, model: string): Record<string, unknown> & { type: string } {
  if (b.type === 'text') return { type: 'text', text: b.text, citations: null };
  if (b.type === 'thinking') return { type: 'thinking', thinking: b.thinking, signature: signThinking(model, b.thinking) };
  return { type: 'tool_use', id: b.id ?? `toolu_fake_${++ids}`, name: b.name, input: b.input, caller: { type: 'direct' } };
}

/** The blocks as a request sends them back (what a pause_turn continuation must carry). */
function asRequestBlocks(blocks: (Record<string, unknown> & { type: string })[]): string {
  return JSON.stringify(
    blocks.flatMap((b): Record<string, unknown>[] => {
      if (b.type === 'text') return String(b.text).trim() === '' ? [] : [{ type: 'text', text: b.text }];
      if (b.type === 'thinking') return [{ type: 'thinking', thinking: b.thinking, signature: b.signature }];
      return [{ type: 'tool_use', id: b.id, name: b.name, input: b.input }];
    }),
  );
}

function messageBody(m: FakeMessage, model: string, content: unknown[], stop: boolean) {
  return {
    id: `msg_fake_${++ids}`, type: 'message', role: 'assistant', model: m.model ?? model, content,
    stop_reason: stop ? (m.stop_reason ?? (m.content.some((b) => b.type === 'tool_use') ? 'tool_use' : 'end_turn')) : null,
    stop_sequence: null, stop_details: stop ? stopDetails(m) : null, container: null, diagnostics: null, usage: usageOf(m),
  };
}

const stopDetails = (m: FakeMessage) =>
  m.stop_reason === 'refusal' ? { type: 'refusal', category: m.refusalCategory ?? null, explanation: null } : null;

function chunks(text: string, parts: number): string[] {
  const size = Math.max(1, Math.ceil(text.length / parts));
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

/** The SSE wire text the SDK's MessageStream accumulates: deltas split in chunks, as the API sends them. */
function writeStream(res: ServerResponse, m: FakeMessage, model: string, blocks: (Record<string, unknown> & { type: string })[]): void {
  const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  const start = messageBody(m, model, [], false);
  send('message_start', { type: 'message_start', message: { ...start, usage: { ...start.usage, output_tokens: 1 } } });
  send('ping', { type: 'ping' });
  blocks.forEach((b, index) => {
    if (b.type === 'thinking') {
      send('content_block_start', { type: 'content_block_start', index, content_block: { type: 'thinking', thinking: '', signature: '' } });
      for (const thinking of chunks(String(b.thinking), 2)) {
        send('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'thinking_delta', thinking } });
      }
      send('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'signature_delta', signature: b.signature } });
    } else if (b.type === 'text') {
      send('content_block_start', { type: 'content_block_start', index, content_block: { ...b, text: '' } });
      for (const text of chunks(String(b.text), 2)) {
        send('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text } });
      }
    } else {
      send('content_block_start', { type: 'content_block_start', index, content_block: { ...b, input: {} } });
      for (const partial_json of chunks(JSON.stringify(b.input), 3)) {
        send('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json } });
      }
    }
    send('content_block_stop', { type: 'content_block_stop', index });
  });
  const stop = messageBody(m, model, [], true);
  send('message_delta', {
    type: 'message_delta',
    delta: { stop_reason: stop.stop_reason, stop_sequence: null, stop_details: stop.stop_details, container: null },
    usage: { output_tokens: stop.usage.output_tokens },
  });
  send('message_stop', { type: 'message_stop' });
  res.end();
}

/**
 * A real HTTP server on 127.0.0.1 speaking the Messages API (`POST
 * /v1/messages`, JSON or SSE as the request asks), answering from a queue
 * the test fills, and recording every request. An unexpected request gets a
 * 500 marked `x-should-retry: false`, so the SDK fails at once with a
 * message naming it.
 *
 * @example
 * const api = await startFakeMessagesApi();
 * api.enqueue({ status: 429, headers: { 'retry-after': '0.01' } }, { content: [{ type: 'text', text: 'hi' }] });
 * const model = createAnthropicModel({ apiKey: 'test', baseURL: api.url, maxRetries: 2, timeoutMs: 5000 });
 */
export async function startFakeMessagesApi(options: FakeMessagesApiOptions = {}): Promise<FakeMessagesApi> {
  const queue: FakeResponder[] = [];
  const requests: RecordedRequest[] = [];
  const refused: string[] = [];
  const pausedAnswers: string[] = [];
  const stats = { maxInFlight: 0, byStatus: new Map<number, number>(), duringSpell: 0 };
  let inFlight = 0;
  let spellUntil = 0;
  let spellError: FakeError | undefined;
  const count = (status: number) => stats.byStatus.set(status, (stats.byStatus.get(status) ?? 0) + 1);
  const server = createServer(async (req, res) => {
    inFlight++;
    stats.maxInFlight = Math.max(stats.maxInFlight, inFlight);
    res.on('close', () => inFlight--);
    await serve(req, res);
  });
  const serve = async (req: import('node:http').IncomingMessage, res: ServerResponse): Promise<void> => {
    const raw = await new Promise<string>((resolve) => {
      let data = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (data += c));
      req.on('end', () => resolve(data));
    });
    const body = (raw ? JSON.parse(raw) : {}) as RecordedRequest['body'];
    const closed = new Promise<void>((resolve) => res.on('close', () => resolve()));
    const recorded: RecordedRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, stream: body.stream === true, closed };
    requests.push(recorded);
    const refusal: FakeError | undefined =
      Date.now() < spellUntil && spellError
        ? spellError
        : options.maxConcurrent !== undefined && inFlight > options.maxConcurrent
          ? { status: 429, headers: { 'retry-after': '1' } }
          : undefined;
    if (refusal) {
      if (Date.now() < spellUntil) stats.duringSpell++;
      count(refusal.status);
      const type = ERROR_TYPES[refusal.status] ?? 'api_error';
      res.writeHead(refusal.status, { 'content-type': 'application/json', ...refusal.headers });
      res.end(JSON.stringify({ type: 'error', error: { type, message: `fake ${refusal.status}` } }));
      return;
    }
    if (options.strict && req.method === 'POST' && recorded.path.startsWith('/v1/messages')) {
      const why = checkRequest(body, { pausedAnswers });
      if (why !== undefined) {
        refused.push(why);
        count(400);
        res.writeHead(400, { 'content-type': 'application/json', 'request-id': `req_fake_${++ids}` });
        res.end(JSON.stringify({ type: 'error', error: { type: 'invalid_request_error', message: why } }));
        return;
      }
    }
    const next = queue.shift() ?? options.fallback;
    if (req.method !== 'POST' || !recorded.path.startsWith('/v1/messages') || next === undefined) {
      const why = next === undefined ? 'no response was enqueued for it' : 'only POST /v1/messages is served';
      const message = `fakeMessagesApi: unexpected request #${requests.length} ${req.method} ${req.url} (model ${String(body.model)}, ${body.messages?.length ?? 0} messages): ${why}`;
      res.writeHead(500, { 'content-type': 'application/json', 'x-should-retry': 'false' });
      res.end(JSON.stringify({ type: 'error', error: { type: 'api_error', message } }));
      return;
    }
    const response = typeof next === 'function' ? await next(recorded) : next;
    const model = String(body.model);
    count('status' in response ? response.status : 200);
    if (options.latencyMs && !('status' in response)) {
      const jitter = options.latencyJitterMs ? (Math.random() * 2 - 1) * options.latencyJitterMs : 0;
      await new Promise((r) => setTimeout(r, Math.max(0, options.latencyMs! + jitter)));
    }
    if ('stall' in response) {
      if (recorded.stream) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const start = messageBody({ content: [] }, model, [], false);
        res.write(`event: message_start\ndata: ${JSON.stringify({ type: 'message_start', message: start })}\n\n`);
      }
      return;
    }
    if ('status' in response) {
      const type = ERROR_TYPES[response.status] ?? 'api_error';
      res.writeHead(response.status, { 'content-type': 'application/json', ...response.headers });
      res.end(JSON.stringify(response.body ?? { type: 'error', error: { type, message: `fake ${response.status}` } }));
      return;
    }
    const blocks = response.content.map((b) => block(b, model));
    if (response.stop_reason === 'pause_turn') pausedAnswers.push(asRequestBlocks(blocks));
    if (recorded.stream) {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'request-id': `req_fake_${++ids}`, ...response.headers });
      writeStream(res, response, model, blocks);
    } else {
      res.writeHead(200, { 'content-type': 'application/json', 'request-id': `req_fake_${++ids}`, ...response.headers });
      res.end(JSON.stringify(messageBody(response, model, blocks, true)));
    }
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    enqueue: (...responses) => void queue.push(...responses),
    pending: () => queue.length,
    spell(ms, error) {
      spellError = error;
      spellUntil = Date.now() + ms;
      return new Promise((r) => setTimeout(r, ms));
    },
    inFlight: () => inFlight,
    stats,
    refused,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
      return closing;
    },
  };
}
