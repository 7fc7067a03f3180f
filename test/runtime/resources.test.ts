import { describe, expect, it } from 'vitest';
import { ResourceStack, type TeardownError } from '../../src/runtime/resources.ts';

/** A stack of three parts that write what happens to them in `log`. */
function threeParts(over: { failClose?: string; failDrop?: string; holdClose?: string } = {}) {
  const log: string[] = [];
  const heard: TeardownError[] = [];
  const stack = new ResourceStack((failure) => heard.push(failure));
  let release: () => void = () => undefined;
  for (const name of ['a', 'b', 'c']) {
    stack.add({
      name,
      close: async () => {
        log.push(`close ${name}`);
        if (over.holdClose === name) await new Promise<void>((resolve) => (release = resolve));
        if (over.failClose === name) throw new Error(`${name} would not close`);
      },
      drop: () => {
        log.push(`drop ${name}`);
        if (over.failDrop === name) throw new Error(`${name} would not drop`);
      },
    });
  }
  return { stack, log, heard, release: () => release() };
}

describe('the resource stack', () => {
  it('closes in the reverse order of registration, each once', async () => {
    const { stack, log } = threeParts();
    expect(await stack.close()).toEqual([]);
    expect(await stack.close()).toEqual([]);
    expect(log).toEqual(['close c', 'close b', 'close a']);
  });

  it('goes on past a close that fails, and returns and reports its error', async () => {
    const { stack, log, heard } = threeParts({ failClose: 'b' });
    const errors = await stack.close();
    expect(log).toEqual(['close c', 'close b', 'close a']);
    expect(errors.map((e) => [e.resource, (e.error as Error).message])).toEqual([['b', 'b would not close']]);
    expect(heard).toEqual(errors);
  });

  it('drops in the reverse order, past one that throws', async () => {
    const { stack, log } = threeParts({ failDrop: 'c' });
    const errors = await stack.drop();
    expect(log).toEqual(['drop c', 'drop b', 'drop a']);
    expect(errors.map((e) => e.resource)).toEqual(['c']);
  });

  it('collects a drop whose promise rejects', async () => {
    const stack = new ResourceStack();
    stack.add({ name: 'server', close: () => undefined, drop: () => Promise.reject(new Error('already closed')) });
    expect((await stack.drop()).map((e) => e.resource)).toEqual(['server']);
  });

  it('a drop during a close takes over: it drops the part being closed and those not reached, not those closed', async () => {
    const { stack, log, release } = threeParts({ holdClose: 'b' });
    const closing = stack.close();
    await Promise.resolve();
    await Promise.resolve();
    expect(log).toEqual(['close c', 'close b']);
    await stack.drop();
    expect(log).toEqual(['close c', 'close b', 'drop b', 'drop a']);
    release();
    await closing;
    // The clean close does not go on to a part that was dropped.
    expect(log).toEqual(['close c', 'close b', 'drop b', 'drop a']);
  });

  it('a part without drop is left as it is on a drop', async () => {
    const log: string[] = [];
    const stack = new ResourceStack();
    stack.add({ name: 'ledger', close: () => log.push('flush') });
    expect(await stack.drop()).toEqual([]);
    expect(log).toEqual([]);
  });

  it('a start that fails drops what it opened, then throws its own error unchanged', async () => {
    const { stack, log } = threeParts({ failDrop: 'a' });
    const failure = new Error('port taken');
    const started = stack.build(async (s) => {
      s.add({ name: 'late', close: () => log.push('close late'), drop: () => log.push('drop late') });
      throw failure;
    });
    await expect(started).rejects.toBe(failure);
    expect(log).toEqual(['drop late', 'drop c', 'drop b', 'drop a']);
  });

  it('a start that succeeds returns what it built and leaves the stack open', async () => {
    const { stack, log } = threeParts();
    expect(await stack.build(async () => 42)).toBe(42);
    expect(log).toEqual([]);
  });
});
