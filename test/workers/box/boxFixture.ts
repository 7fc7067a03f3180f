import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { onTestFinished } from 'vitest';
import { startBox } from '../../../src/workers/box/index.ts';
import type { BoxCallResult, BoxLimits, BoxOptions, TaskBox } from '../../../src/workers/box/types.ts';
import type { ToolName } from '../../../src/workers/tools/tool.ts';

/** Where the view appears inside the test boxes. */
export const ROOT = '/work/task';

export const TEST_LIMITS: BoxLimits = {
  processes: 128,
  memoryBytes: 2 * 1024 ** 3,
  cpuSeconds: 60,
  fileSizeBytes: 64 * 1024 ** 2,
  tmpBytes: 16 * 1024 ** 2,
  layerBytes: 32 * 1024 ** 2,
};

/**
 * A lower folder in a fresh temp folder (`outside` beside it is the host's
 * "outside": a worker must never read or write it). `files` maps a path to
 * its content; a value starting with `->` makes a symlink.
 */
export function makeLower(files: Record<string, string>): { lower: string; outside: string; parent: string } {
  const parent = mkdtempSync(path.join(tmpdir(), 'orch-box-test-'));
  onTestFinished(() => rmSync(parent, { recursive: true, force: true }));
  const lower = path.join(parent, 'lower');
  const outside = path.join(parent, 'outside');
  mkdirSync(lower);
  mkdirSync(outside);
  writeFileSync(path.join(outside, 'secret.txt'), 'OUTSIDE-SECRET\n');
  for (const [file, content] of Object.entries(files)) {
    const at = path.join(lower, file);
    mkdirSync(path.dirname(at), { recursive: true });
    if (content.startsWith('->')) symlinkSync(content.slice(2), at);
    else writeFileSync(at, content);
  }
  return { lower, outside, parent };
}

/** A real box over `lower`, closed when the test ends. */
export async function openBox(lower: string | string[], options: Partial<BoxOptions> = {}): Promise<TaskBox> {
  const box = await startBox({
    taskId: 'test',
    lower: Array.isArray(lower) ? lower : [lower],
    root: ROOT,
    limits: TEST_LIMITS,
    env: { PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8' },
    bashTimeoutMs: 20_000,
    maxOutputBytes: 64 * 1024,
    ...options,
  });
  onTestFinished(() => box.close());
  return box;
}

/** One tool call with a fresh signal. */
export function call(box: TaskBox, tool: ToolName, input: Record<string, unknown>): Promise<BoxCallResult> {
  return box.call(tool, input, new AbortController().signal);
}

/** A Bash call that must succeed: its output. */
export async function sh(box: TaskBox, command: string): Promise<string> {
  const result = await call(box, 'Bash', { command });
  if (result.isError) throw new Error(`${command}: ${result.text}`);
  return result.text;
}
