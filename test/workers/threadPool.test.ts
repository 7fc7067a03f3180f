import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { WorkerAbortedError } from '../../src/workers/errors.ts';
import { MAX_THREADS, poolState, runOffThread, ThreadTimeoutError } from '../../src/workers/threads/pool.ts';
import { tempDir } from './fixtures.ts';

const walk = { timeoutMs: 60_000, maxEntries: 1_000_000 };

describe('the tool threads', () => {
  it('runs more jobs than it has threads, each answered, and never grows past MAX_THREADS', async () => {
    const root = await tempDir();
    for (let i = 0; i < 20; i++) writeFileSync(path.join(root, `f${i}`), '');
    const jobs = Array.from({ length: MAX_THREADS * 3 }, () => runOffThread('snapshot', { root, ...walk }, { limitMs: 60_000 }));
    expect(poolState().threads).toBeLessThanOrEqual(MAX_THREADS);
    expect(poolState().waiting).toBeGreaterThan(0);
    const answers = await Promise.all(jobs);
    expect(answers.map((a) => a.files)).toEqual(jobs.map(() => 20));
    expect(poolState()).toMatchObject({ busy: 0, waiting: 0 });
  });

  it('terminates a thread stuck past its limit and keeps serving with a new one', async () => {
    const root = await tempDir();
    writeFileSync(path.join(root, 'input.txt'), `${'a'.repeat(40)}!\n`);
    const grep = {
      root, base: root, isFile: false, filter: '**/*', pattern: '^(a+)+$', ignoreCase: false,
      mode: 'files_with_matches', lineNumbers: true, maxFileBytes: 1 << 20, limit: 10,
    } as const;
    await expect(runOffThread('grep', grep, { limitMs: 300 })).rejects.toBeInstanceOf(ThreadTimeoutError);
    const found = await runOffThread('grep', { ...grep, pattern: '^a+!$' }, { limitMs: 60_000 });
    expect(found).toEqual({ entries: ['input.txt'], total: 1 });
  });

  it('an abort takes a waiting job out of the line and ends a running one', async () => {
    const root = await tempDir();
    writeFileSync(path.join(root, 'input.txt'), `${'a'.repeat(40)}!\n`);
    const slow = {
      root, base: root, isFile: false, filter: '**/*', pattern: '^(a+)+$', ignoreCase: false,
      mode: 'files_with_matches', lineNumbers: true, maxFileBytes: 1 << 20, limit: 10,
    } as const;
    const controller = new AbortController();
    // Every thread busy with a backtracking pattern, and one more job waiting behind them.
    const running = Array.from({ length: MAX_THREADS }, () => runOffThread('grep', slow, { limitMs: 60_000, signal: controller.signal }));
    const waiting = runOffThread('snapshot', { root, ...walk }, { limitMs: 60_000, signal: controller.signal });
    expect(poolState().waiting).toBe(1);
    controller.abort();
    for (const job of [...running, waiting]) await expect(job).rejects.toBeInstanceOf(WorkerAbortedError);
    expect(poolState()).toMatchObject({ busy: 0, waiting: 0 });
    expect((await runOffThread('snapshot', { root, ...walk }, { limitMs: 60_000 })).files).toBe(1);
  });
});
