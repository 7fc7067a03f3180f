import { execFileSync } from 'node:child_process';
import { existsSync, renameSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, unlinkSync, writeFileSync, symlinkSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { openGitProject } from '../../src/git/project.ts';
import { DEFAULT_SNAPSHOT_EXCLUDE, openLayerStack, type LayerStack, type StackView } from '../../src/project/layerStack.ts';
import { gitIn } from '../support/project.ts';

const made: string[] = [];
const stacks: LayerStack[] = [];
afterEach(async () => {
  for (const s of stacks.splice(0)) await s.close();
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
});
const temp = (prefix: string) => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
};
const logger = pino({ level: 'silent' });

/**
 * What a box would see: the stack mounted by the kernel (overlayfs in a user
 * and mount namespace of its own, as the box does), every file and symlink
 * with its content or target.
 */
function mounted(view: StackView): Record<string, string> {
  const mnt = temp('orch-ls-mnt-');
  // A read-only overlay needs two lower folders at least: an empty one under the stack.
  const empty = temp('orch-ls-empty-');
  const script = `mount -t overlay overlay -o "userxattr,lowerdir=${[...view.lower, empty].join(':')}" "$1" && cd "$1" && find . -mindepth 1 \\( -type f -o -type l \\) -printf '%P\\t%y\\t' -exec sh -c 'if [ -L "$1" ]; then readlink "$1"; else head -c 200 "$1" | tr "\\n" "|"; echo; fi' _ {} \\;`;
  const out = execFileSync('unshare', ['-rm', 'sh', '-c', script, 'ls', mnt], { encoding: 'utf8' });
  const files: Record<string, string> = {};
  for (const line of out.split('\n').filter(Boolean)) {
    const [p, type, content] = line.split('\t');
    files[p!] = type === 'l' ? `-> ${content}` : content!;
  }
  return files;
}

async function project() {
  const root = temp('orch-ls-project-');
  gitIn(root, 'init', '-q', '-b', 'main');
  mkdirSync(join(root, 'src/lib'), { recursive: true });
  writeFileSync(join(root, 'src/a.js'), 'a\n');
  writeFileSync(join(root, 'src/lib/only.js'), 'only\n');
  writeFileSync(join(root, 'file-then-dir'), 'f\n');
  writeFileSync(join(root, '.gitignore'), 'node_modules/\n.env\n');
  gitIn(root, 'add', '.');
  gitIn(root, 'commit', '-qm', 'base');
  // Installed and secret files: untracked, ignored.
  mkdirSync(join(root, 'node_modules/dep'), { recursive: true });
  writeFileSync(join(root, 'node_modules/dep/index.js'), 'dep\n');
  writeFileSync(join(root, '.env'), 'TOKEN=secret\n');
  writeFileSync(join(root, 'src/server.pem'), 'key\n');
  mkdirSync(join(root, 'home/.ssh'), { recursive: true });
  writeFileSync(join(root, 'home/.ssh/id_rsa'), 'key\n');
  mkdirSync(join(root, 'node_modules/dep/.git'));
  writeFileSync(join(root, 'node_modules/dep/.git/config'), '[core]\n');
  return { root, git: await openGitProject(root) };
}

describe('the lower view of box mode: a snapshot, then a thin layer per move of the branch', () => {
  it.each([true, false])('snapshots tracked and installed files (hard links: %s), never .git or secrets', async (hardLinks) => {
    const { root, git } = await project();
    const stack = await openLayerStack({ project: git, root: temp('orch-ls-ws-'), exclude: DEFAULT_SNAPSHOT_EXCLUDE, logger, hardLinks });
    stacks.push(stack);
    const view = stack.view();
    expect(view.commit).toBe(gitIn(root, 'rev-parse', 'main'));
    expect(view.lower).toHaveLength(1);
    expect(stack.snapshot.method).toBe(hardLinks ? 'hardlink' : 'copy');
    const base = view.lower[0]!;
    expect(statSync(join(base, 'src/a.js')).ino === statSync(join(root, 'src/a.js')).ino).toBe(hardLinks);
    expect(mounted(view)).toEqual({
      '.gitignore': 'node_modules/|.env|',
      'file-then-dir': 'f|',
      'node_modules/dep/index.js': 'dep|',
      'src/a.js': 'a|',
      'src/lib/only.js': 'only|',
    });
    expect(existsSync(join(base, '.git'))).toBe(false);
  });

  it('a merge that moved the branch becomes one layer of what it changed, deletions as whiteouts; the old view stays as it was', async () => {
    const { root, git } = await project();
    const stack = await openLayerStack({ project: git, root: temp('orch-ls-ws-'), exclude: DEFAULT_SNAPSHOT_EXCLUDE, logger, hardLinks: true });
    stacks.push(stack);
    const before = stack.view();
    const seen = mounted(before);
    expect((await stack.refresh()).lower).toEqual(before.lower); // the branch did not move
    // Replaced, as git and npm do: a file edited in place would show through the hard-linked snapshot (docs/projects.md).
    writeFileSync(join(root, 'src/a.js.new'), 'a2\n');
    renameSync(join(root, 'src/a.js.new'), join(root, 'src/a.js'));
    writeFileSync(join(root, 'src/b.js'), 'b\n');
    unlinkSync(join(root, 'src/lib/only.js'));
    unlinkSync(join(root, 'file-then-dir'));
    mkdirSync(join(root, 'file-then-dir'));
    writeFileSync(join(root, 'file-then-dir/x.js'), 'x\n');
    symlinkSync('src/a.js', join(root, 'link'));
    // Secrets committed by someone stay out of the layers as they stay out of the snapshot.
    gitIn(root, 'add', '-A', '.');
    expect(gitIn(root, 'ls-files')).toContain('home/.ssh/id_rsa');
    gitIn(root, 'commit', '-qm', 'moved');
    const after = await stack.refresh();
    expect(after.commit).toBe(gitIn(root, 'rev-parse', 'main'));
    expect(after.lower).toHaveLength(2);
    expect(after.lower.slice(1)).toEqual(before.lower);
    // Thin: the layer holds what changed, not the project.
    const layerFiles = execFileSync('find', [after.lower[0]!, '-mindepth', '1', '-printf', '%P %y\n'], { encoding: 'utf8' }).split('\n').filter(Boolean).sort();
    expect(layerFiles).toEqual(['file-then-dir d', 'file-then-dir/x.js f', 'link l', 'src d', 'src/a.js f', 'src/b.js f', 'src/lib c'].sort());
    expect(mounted(after)).toEqual({
      '.gitignore': 'node_modules/|.env|',
      'file-then-dir/x.js': 'x|',
      link: '-> src/a.js',
      'node_modules/dep/index.js': 'dep|',
      'src/a.js': 'a2|',
      'src/b.js': 'b|',
    });
    // A box started before keeps exactly what it was given.
    expect(mounted(before)).toEqual(seen);
  });

  it('removes its stack on close, and a dead listener\'s at the next start', async () => {
    const { git } = await project();
    const ws = temp('orch-ls-ws-');
    const stack = await openLayerStack({ project: git, root: ws, exclude: DEFAULT_SNAPSHOT_EXCLUDE, logger });
    mkdirSync(join(ws, 'dead'));
    writeFileSync(join(ws, 'dead/owner'), `${hostname()} 999999999\n`);
    // A listener on another host sharing the workspace: its pid means nothing here, its stack stays.
    mkdirSync(join(ws, 'elsewhere'));
    writeFileSync(join(ws, 'elsewhere/owner'), 'another-host 999999999\n');
    await stack.close();
    expect(readdirSync(ws).sort()).toEqual(['dead', 'elsewhere']);
    const next = await openLayerStack({ project: git, root: ws, exclude: [], logger });
    stacks.push(next);
    expect(readdirSync(ws)).toHaveLength(2);
    expect(readdirSync(ws)).toContain('elsewhere');
    expect(readdirSync(ws)).not.toContain('dead');
  });
});
