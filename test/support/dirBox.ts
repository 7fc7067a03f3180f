import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { BoxFile, BoxOptions, LayerEntry, StartBox, TaskBox } from '../../src/workers/box/types.ts';
import { surveyWorkspace } from '../../src/workers/survey.ts';

/**
 * A directory-backed TaskBox: no namespaces, no overlay. The view is a
 * plain folder made by copying the lower layers bottom to top (a whiteout,
 * a 0:0 character device, deletes; an opaque folder is not told apart), and
 * the "layer" is what `write` and `files.write` changed since. It is our own
 * interface, so the git plumbing can be tested against it before and
 * besides the real box; `ops` counts the filesystem operations of setting a
 * view up, which the real box must keep flat.
 */
export interface DirBox extends TaskBox {
  /** Host folder holding the view (tests write "as the worker" through it). */
  readonly dir: string;
  /** Records a path as changed by the worker, as the box's own tools would. */
  touch(p: string, kind: LayerEntry['kind']): void;
}

async function overlayCopy(from: string, to: string): Promise<number> {
  let ops = 0;
  for (const name of await readdir(from)) {
    const src = path.join(from, name);
    const dst = path.join(to, name);
    const st = await lstat(src);
    ops++;
    if (st.isCharacterDevice() && st.rdev === 0) {
      await rm(dst, { recursive: true, force: true });
    } else if (st.isDirectory()) {
      const existing = await lstat(dst).catch(() => undefined);
      if (existing && !existing.isDirectory()) await rm(dst, { force: true });
      await mkdir(dst, { recursive: true });
      ops += await overlayCopy(src, dst);
    } else if (st.isSymbolicLink()) {
      await rm(dst, { recursive: true, force: true });
      await symlink(await readlink(src), dst);
    } else if (st.isFile()) {
      await rm(dst, { recursive: true, force: true });
      await copyFile(src, dst);
      await chmod(dst, st.mode & 0o777);
    }
  }
  return ops;
}

export function dirBoxFactory(): StartBox & { started: BoxOptions[]; closed: number; setupOps: number[] } {
  const started: BoxOptions[] = [];
  const setupOps: number[] = [];
  const factory = Object.assign(
    async (options: BoxOptions): Promise<DirBox> => {
      started.push(options);
      const dir = await mkdtemp(path.join(tmpdir(), 'orch-dirbox-'));
      let ops = 0;
      for (const layer of [...options.lower].reverse()) ops += await overlayCopy(layer, dir);
      setupOps.push(ops);
      const changed = new Map<string, LayerEntry['kind']>();
      let closed = false;
      const at = (p: string) => path.join(dir, p);
      const box: DirBox = {
        root: options.root,
        dir,
        touch: (p, kind) => changed.set(p, kind),
        async call() {
          return { text: 'the directory-backed test box runs no tools', isError: true, changed: [] };
        },
        async run() {
          return { output: 'the directory-backed test box runs no commands', exitCode: 126, timedOut: false, durationMs: 0 };
        },
        async layer() {
          return [...changed].map(([p, kind]) => ({ path: p, kind }));
        },
        async read(paths) {
          return Promise.all(
            paths.map(async (p): Promise<BoxFile> => {
              const st = await lstat(at(p)).catch(() => undefined);
              if (!st) return { path: p, kind: 'absent' };
              if (st.isSymbolicLink()) return { path: p, kind: 'symlink', target: await readlink(at(p)) };
              if (st.isFile()) return { path: p, kind: 'file', executable: (st.mode & 0o111) !== 0, content: await readFile(at(p)) };
              return { path: p, kind: 'other' };
            }),
          );
        },
        async write(files) {
          for (const f of files) {
            await rm(at(f.path), { recursive: true, force: true });
            if (f.kind === 'absent') {
              changed.set(f.path, 'deleted');
              continue;
            }
            await mkdir(path.dirname(at(f.path)), { recursive: true });
            if (f.kind === 'symlink') await symlink(f.target ?? '', at(f.path));
            else if (f.kind === 'file') await writeFile(at(f.path), f.content ?? Buffer.alloc(0), { mode: f.executable ? 0o755 : 0o644 });
            changed.set(f.path, f.kind === 'file' ? 'file' : 'symlink');
          }
        },
        survey: () => surveyWorkspace(dir),
        async close() {
          if (closed) return;
          closed = true;
          factory.closed++;
          await rm(dir, { recursive: true, force: true });
        },
      };
      return box;
    },
    { started, closed: 0, setupOps },
  );
  return factory;
}
