import type { ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import type { z } from 'zod';
import { WorkerAbortedError } from '../errors.ts';
import { BoxFailedError, BoxOperationError } from './errors.ts';
import { MAX_LINE_BYTES, response, type Request } from './protocol.ts';

type BoxProcess = ChildProcessByStdio<Writable, Readable, Readable>;

/** Distributive Omit: each request kind without its id. */
type Ask = Request extends infer R ? (R extends Request ? Omit<R, 'id'> : never) : never;

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

/** What the box printed last on stderr, for the error that says why it stopped. */
const STDERR_TAIL = 4096;

/**
 * The listener's end of the pipe to a box's tool server: requests out as
 * JSON lines, answers in, each checked against its schema. Nothing the box
 * sends can make the listener hold more than MAX_LINE_BYTES (a longer line
 * closes the box), and every read is the stream's own (async, never a
 * blocking call on the event loop).
 */
export class BoxConnection {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;
  private stderr = '';
  /** Set once the box can take no more requests: why. */
  private broken: BoxFailedError | undefined;
  private readonly ready: Promise<void>;

  constructor(
    private readonly child: BoxProcess,
    private readonly onBroken: (error: BoxFailedError) => void,
  ) {
    let readyResolve!: () => void;
    let readyReject!: (error: Error) => void;
    this.ready = new Promise<void>((resolve, reject) => {
      readyResolve = resolve;
      readyReject = reject;
    });
    this.ready.catch(() => undefined);
    this.pending.set(0, { resolve: () => readyResolve(), reject: readyReject });
    child.stdout.on('data', (chunk: Buffer) => this.take(chunk));
    child.stderr.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString('utf8')).slice(-STDERR_TAIL);
    });
    child.stdin.on('error', () => undefined); // EPIPE after the box died: the exit handler says why
    child.on('exit', (code, signal) => {
      const why = this.stderr.trim() === '' ? '' : `: ${this.stderr.trim()}`;
      this.fail(new BoxFailedError(`the task box stopped (${signal ?? `exit code ${code}`})${why}`));
    });
    child.on('error', (error) => this.fail(new BoxFailedError(`the task box could not be started: ${error.message}`)));
  }

  /** Resolves once the server said it is ready; rejects with why the box did not start. */
  whenReady(): Promise<void> {
    return this.ready;
  }

  /** Sends one request and resolves with its checked result; aborts with `signal`, telling the box to stop the call. */
  request<T>(ask: Ask, schema: z.ZodType<T>, signal?: AbortSignal): Promise<T> {
    if (this.broken !== undefined) return Promise.reject(this.broken);
    if (signal?.aborted) return Promise.reject(new WorkerAbortedError(signal.reason));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        this.pending.delete(id);
        this.write({ id: this.nextId++, op: 'cancel', target: id });
        reject(new WorkerAbortedError(signal?.reason));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.set(id, {
        resolve: (value) => {
          signal?.removeEventListener('abort', onAbort);
          const parsed = schema.safeParse(value);
          if (parsed.success) resolve(parsed.data);
          else {
            const error = this.fail(new BoxFailedError(`the task box answered a ${ask.op} with what its protocol does not allow (${parsed.error.issues[0]?.message ?? 'invalid'}): the box was closed`));
            reject(error);
          }
        },
        reject: (error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      });
      this.write({ ...ask, id } as Request);
    });
  }

  private write(message: Request): void {
    if (this.broken === undefined) this.child.stdin.write(`${JSON.stringify(message)}\n`);
  }

  /** Stops taking requests and fails every pending one; the first reason is kept. */
  fail(error: BoxFailedError): BoxFailedError {
    if (this.broken !== undefined) return this.broken;
    this.broken = error;
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.reject(error);
    this.onBroken(error);
    return error;
  }

  private take(chunk: Buffer): void {
    if (this.broken !== undefined) return;
    let start = 0;
    for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, start)) {
      const line = this.bufferedBytes === 0 ? chunk.subarray(start, at) : Buffer.concat([...this.buffered, chunk.subarray(start, at)]);
      this.buffered = [];
      this.bufferedBytes = 0;
      start = at + 1;
      if (line.length > MAX_LINE_BYTES) return void this.fail(this.tooLong());
      this.answer(line);
      if (this.broken !== undefined) return;
    }
    const rest = chunk.subarray(start);
    if (rest.length === 0) return;
    this.bufferedBytes += rest.length;
    if (this.bufferedBytes > MAX_LINE_BYTES) return void this.fail(this.tooLong());
    this.buffered.push(rest);
  }

  private tooLong(): BoxFailedError {
    return new BoxFailedError(`the task box sent a message over ${MAX_LINE_BYTES} bytes, more than its protocol allows: the box was closed`);
  }

  private answer(line: Buffer): void {
    let message: z.infer<typeof response>;
    try {
      message = response.parse(JSON.parse(line.toString('utf8')));
    } catch {
      this.fail(new BoxFailedError('the task box sent a line that is not an answer of its protocol: the box was closed'));
      return;
    }
    const pending = this.pending.get(message.id);
    if (pending === undefined) return; // an answer to a call given up (aborted)
    this.pending.delete(message.id);
    if (message.ok) pending.resolve(message.result);
    else pending.reject(new BoxOperationError(message.error));
  }
}
