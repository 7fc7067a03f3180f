import { lstatSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// The tool server is TypeScript, like the rest; a box must not pay tsx's
// start-up (a loader, a transform per file) every time one starts. esbuild
// (which tsx brings) bundles it once per listener into one folder: the
// server and the tool threads' script beside it (pool.ts finds
// `./thread.mjs` next to the code that loads it). The folder is made fresh
// (mkdtemp: nobody else's), readable by all (a `uid` box reads it), bound
// read-only into every box, and removed when the listener exits.

const here = path.dirname(fileURLToPath(import.meta.url));

let bundled: Promise<string> | undefined;

/** The folder holding `server.mjs` and `thread.mjs`, bundled on first use. */
export function serverBundle(): Promise<string> {
  bundled ??= build().catch((error: unknown) => {
    bundled = undefined;
    throw error;
  });
  return bundled;
}

/**
 * Removes what listeners killed before they could clean up left in the temp
 * folder: their server bundles and the empty folders their boxes mounted
 * on (`orch-box-server-{pid}-…`, `orch-box-mnt-{pid}-…`). Only folders of
 * this uid whose listener is gone; a link is never followed.
 */
export function sweepStale(dir = tmpdir()): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^orch-box-(server|mnt)-(\d+)-/.exec(name);
    if (m === null) continue;
    try {
      process.kill(Number(m[2]), 0);
      continue; // alive (or another user's: EPERM)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') continue;
    }
    const at = path.join(dir, name);
    const stats = lstatSync(at, { throwIfNoEntry: false });
    if (stats === undefined || !stats.isDirectory() || stats.uid !== process.getuid?.()) continue;
    rmSync(at, { recursive: true, force: true });
  }
}

async function build(): Promise<string> {
  const { build: esbuild } = await import('esbuild');
  sweepStale();
  const out = mkdtempSync(path.join(tmpdir(), `orch-box-server-${process.pid}-`));
  process.once('exit', () => rmSync(out, { recursive: true, force: true }));
  await esbuild({
    entryPoints: { server: path.join(here, 'server.ts'), thread: path.join(here, '..', 'threads', 'thread.mjs') },
    outdir: out,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    outExtension: { '.js': '.mjs' },
    // Some dependencies are CommonJS and call require() on Node built-ins.
    banner: { js: "import { createRequire as __orchRequire } from 'node:module'; const require = __orchRequire(import.meta.url);" },
    minify: true,
    // The server never calls a model: src/errors.ts's `instanceof` checks against the SDK's classes get empty stand-ins
    // instead of 1.6 MB of SDK to parse at every box start.
    plugins: [
      {
        name: 'no-sdk',
        setup(b) {
          b.onResolve({ filter: /^@anthropic-ai\/sdk$/ }, () => ({ path: 'sdk', namespace: 'no-sdk' }));
          b.onLoad({ filter: /.*/, namespace: 'no-sdk' }, () => ({
            contents: 'export class APIError extends Error {} export class APIConnectionError extends APIError {} export class APIUserAbortError extends APIError {}',
            loader: 'js',
          }));
        },
      },
    ],
    logLevel: 'silent',
  });
  return out;
}
