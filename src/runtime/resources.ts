/**
 * What a listener holds open (connections, servers, timers, the actor), as
 * one stack: each part registers how to close itself as it is opened, and
 * one teardown serves the clean stop, the cut-short stop and a start that
 * failed half-way, in the reverse order of opening (what was opened last
 * may use what was opened before it: the gate its subscriber, everything
 * the commands connection).
 */

export interface Resource {
  /** Named in the log when its close fails. */
  name: string;
  /** A clean close: may wait (a flush, Redis's QUIT, tasks finishing). */
  close: () => unknown;
  /**
   * Drops it at once, waiting on nothing outside this process (no Redis
   * round trip, no task): a cut-short stop and a failed start. Returns what
   * is left to settle locally (a server closing), which a failed start awaits
   * and a cut-short stop does not. Default: nothing to drop (in memory only,
   * or left for the instance that takes the tasks over).
   */
  drop?: () => unknown;
}

export interface TeardownError {
  resource: string;
  error: unknown;
}

type Entry = Resource & { state: 'open' | 'closing' | 'closed' };

export class ResourceStack {
  readonly #entries: Entry[] = [];
  readonly #onError: (failure: TeardownError) => void;

  /** `onError` hears each failed close or drop as it happens (the listener logs it). */
  constructor(onError: (failure: TeardownError) => void = () => undefined) {
    this.#onError = onError;
  }

  /** Registers what was just opened (before anything that could fail after it). */
  add(resource: Resource): void {
    this.#entries.push({ ...resource, state: 'open' });
  }

  /**
   * Closes each resource in turn, last opened first; one that fails does not
   * keep the others open. A drop() meanwhile takes over the rest.
   */
  async close(): Promise<TeardownError[]> {
    const errors: TeardownError[] = [];
    for (const entry of [...this.#entries].reverse()) {
      if (entry.state !== 'open') continue;
      entry.state = 'closing';
      try {
        await entry.close();
      } catch (error) {
        errors.push(this.#failed(entry.name, error));
      } finally {
        entry.state = 'closed';
      }
    }
    return errors;
  }

  /**
   * Drops every resource not closed yet (one whose clean close is under way
   * too), last opened first, each without waiting for the one before.
   * Resolves once what they left to settle has settled.
   */
  async drop(): Promise<TeardownError[]> {
    const errors: TeardownError[] = [];
    const settling: Promise<unknown>[] = [];
    for (const entry of [...this.#entries].reverse()) {
      if (entry.state === 'closed') continue;
      entry.state = 'closed';
      try {
        settling.push(Promise.resolve(entry.drop?.()).catch((error: unknown) => errors.push(this.#failed(entry.name, error))));
      } catch (error) {
        errors.push(this.#failed(entry.name, error));
      }
    }
    await Promise.all(settling);
    return errors;
  }

  /**
   * Runs a start-up that registers its parts here: if it throws, everything
   * opened so far is dropped (a failed start has nothing to hand off or
   * flush, and a clean close could wait forever on a Redis that is away),
   * then the start's own error is thrown as it was.
   */
  async build<T>(start: (stack: this) => Promise<T>): Promise<T> {
    try {
      return await start(this);
    } catch (error) {
      await this.drop();
      throw error;
    }
  }

  #failed(resource: string, error: unknown): TeardownError {
    const failure = { resource, error };
    this.#onError(failure);
    return failure;
  }
}
