import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DEFAULT_LIMITS } from '../sandbox/sandbox.ts';
import { startBox } from './start.ts';

let probed: Promise<string | undefined> | undefined;

/**
 * Whether a task box works here, tried for real once per listener: a box
 * over a one-file lower layer must start, Write a file into its layer (not
 * into the lower folder), list it in `layer()`, read it back and close.
 * Undefined when it works, else the reason (for the start-up line that says
 * why tasks fall back to worktrees).
 */
export function probeBox(): Promise<string | undefined> {
  probed ??= tryBox();
  return probed;
}

async function tryBox(): Promise<string | undefined> {
  const lower = mkdtempSync(path.join(tmpdir(), 'orch-box-probe-'));
  try {
    writeFileSync(path.join(lower, 'lower.txt'), 'lower\n');
    const box = await startBox({
      taskId: 'probe',
      lower: [lower],
      root: '/work/probe',
      limits: { ...DEFAULT_LIMITS, processes: 64, layerBytes: 1024 * 1024, tmpBytes: 1024 * 1024 },
      env: { PATH: '/usr/bin:/bin' },
      bashTimeoutMs: 10_000,
      maxOutputBytes: 4096,
    });
    try {
      const wrote = await box.call('Write', { file_path: 'probe.txt', content: 'ok\n' }, new AbortController().signal);
      if (wrote.isError) return `a Write inside the box failed: ${wrote.text}`;
      const layer = await box.layer();
      if (!layer.some((e) => e.path === 'probe.txt' && e.kind === 'file')) return `the box's layer does not show its Write (${JSON.stringify(layer)})`;
      const [file] = await box.read(['probe.txt']);
      if (file?.content?.toString() !== 'ok\n') return 'the box read back something else than it wrote';
    } finally {
      await box.close();
    }
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    rmSync(lower, { recursive: true, force: true });
  }
}
