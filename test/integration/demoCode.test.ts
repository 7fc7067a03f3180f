import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { mountsEveryFile } from '../../src/models/scriptedApp.ts';
import { runCli } from '../support/cli.ts';
import { gitIn, sampleProject, startOnProject } from '../support/project.ts';

// Issue 23, items 12 and 5, through the real CLI: what the offline stand-in
// writes for the demo's three tasks is small working code, wired into the
// sample app, that a person would accept; and every worker's progress line
// names exactly what its commit changed.

const run = promisify(execFile);
const dirs: string[] = [];
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** The project's files under git on main. */
const tracked = (project: string): string[] => gitIn(project, 'ls-tree', '-r', '--name-only', 'main').split('\n');

/** `node --check` of every .js file of the project: the ones that do not parse. */
async function unparsable(project: string): Promise<string[]> {
  const bad: string[] = [];
  for (const file of tracked(project).filter((f) => f.endsWith('.js'))) {
    await run(process.execPath, ['--check', join(project, file)]).catch((error: { stderr?: string }) => bad.push(`${file}: ${error.stderr ?? String(error)}`));
  }
  return bad;
}

/** The app's own tests (`npm test` is `node --test`): exit code and the TAP summary. */
async function appTests(project: string): Promise<{ code: number; output: string }> {
  return run(process.execPath, ['--test'], { cwd: project, env: { PATH: process.env.PATH } }).then(
    ({ stdout }) => ({ code: 0, output: stdout }),
    (error: { code?: number; stdout?: string }) => ({ code: error.code ?? 1, output: error.stdout ?? '' }),
  );
}

const passed = (output: string): number => Number(/^# pass (\d+)$/m.exec(output)?.[1] ?? 0);

/** What the project's code must hold whatever task ran: routers mounted, migrations numbered once each and never edited, no body echoed. */
function expectWiredIn(project: string): void {
  const files = tracked(project);
  const read = (file: string) => readFileSync(join(project, file), 'utf8');
  expect(mountsEveryFile(read('src/routes/index.js'))).toBe(true);
  for (const file of files.filter((f) => /^src\/routes\/(?!index\.js$)[^/]+\.js$/.test(f))) {
    expect(read(file), file).toMatch(/^export const router = Router\(\);$/m);
  }
  const migrations = files.filter((f) => f.startsWith('migrations/'));
  expect(migrations.map((f) => /^migrations\/(\d{3})_[a-z0-9_]+\.sql$/.exec(f)?.[1])).toEqual(migrations.map((_, i) => String(i + 1).padStart(3, '0')));
  // After the sample's own commit, migrations were only ever added: none edited, none removed.
  const root = gitIn(project, 'rev-list', '--max-parents=0', 'main');
  const changes = gitIn(project, 'log', '--format=', '--name-status', `${root}..main`, '--', 'migrations').split('\n').filter(Boolean);
  expect(changes.length).toBeGreaterThan(0);
  for (const change of changes) expect(change).toMatch(/^A\t/);
  for (const file of files.filter((f) => f.startsWith('src/'))) {
    expect(read(file), file).not.toMatch(/\.\.\.req\.body|(json|send)\(req\.body\)/);
  }
}

describe('what the scripted stand-in writes', () => {
  it("demo --keep: the three tasks' code parses, is mounted, numbers its migrations after the sample's, checks roles for real, and the app's tests pass", async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'orch-democode-cwd-'));
    const tmp = mkdtempSync(join(tmpdir(), 'orch-democode-tmp-'));
    dirs.push(cwd, tmp);
    const env = { PATH: process.env.PATH, HOME: cwd, TMPDIR: tmp, ORCH_SCRIPTED_LATENCY_MS: 'db-worker=1,api-worker=1,auth-worker=1' };
    const demo = await runCli(['demo', '--keep'], env, cwd);
    expect(demo.status, demo.stdout + demo.stderr).toBe(0);
    const project = join(/^kept (\S+)$/m.exec(demo.stdout)![1]!, 'project');
    expect(gitIn(project, 'status', '--porcelain')).toBe('');

    expect(await unparsable(project)).toEqual([]);
    expectWiredIn(project);
    const read = (file: string) => readFileSync(join(project, file), 'utf8');
    expect(tracked(project).filter((f) => f.startsWith('migrations/'))).toEqual([
      'migrations/001_create_users.sql',
      'migrations/002_add_password_hash_to_users.sql',
      'migrations/003_add_role_to_users.sql',
      'migrations/004_create_posts.sql',
    ]);
    // Registration: added to the users router, validated, hashed, answered with a token.
    expect(read('src/routes/users.js')).toContain("router.get('/api/users'"); // the sample's route is still there
    expect(read('src/routes/users.js')).toMatch(/router\.post\('\/api\/users\/register'[\s\S]*EMAIL\.test\(email\)[\s\S]*hashPassword\(password\)[\s\S]*issueToken\(/);
    // Role-based access: admin routes behind requireAuth and a role check read from the database.
    expect(read('src/routes/admin.js')).toContain("const adminOnly = [requireAuth, requireRole('admin')];");
    expect(read('src/routes/admin.js')).toMatch(/router\.get\('\/api\/admin\/users', \.\.\.adminOnly,/);
    expect(read('src/middleware/requireRole.js')).toMatch(/!== role\) return res\.status\(403\)/);
    expect(read('src/models/user.js')).toContain("'password_hash', 'role'");
    // Blog posts: writes need a token, the author comes from it, not from the body.
    expect(read('src/routes/posts.js')).toMatch(/router\.post\('\/api\/posts', requireAuth,[\s\S]*\[fields\.title, fields\.body, req\.userId\]/);

    // The app's own checks, the auth tests and the role tests, all green.
    const tests = await appTests(project);
    expect(tests.code, tests.output).toBe(0);
    expect(passed(tests.output)).toBeGreaterThanOrEqual(8);

    // Item 5: each worker's progress line lists exactly what its commit changed.
    const sent = [...demo.stdout.matchAll(/^sent ([0-9a-f]{8}): /gm)].map((m) => m[1]!);
    const branches = [...demo.stdout.matchAll(/^ {2}branch: {2}\S+ \((.*)\)$/gm)].map((m) => m[1]!);
    expect(sent).toHaveLength(3);
    expect(branches).toHaveLength(3);
    sent.forEach((id, i) => {
      for (const [, worker, sha] of branches[i]!.matchAll(/([a-z]+-worker) ([0-9a-f]{7})/g)) {
        const line = new RegExp(`^ {2}${id} \\[[^\\]]+\\] ${worker} succeeded in \\d+ ms: (.*?)(, \\d+ tokens)?$`, 'm').exec(demo.stdout);
        const listed = line![1] === 'no files' ? [] : line![1]!.split(' ');
        const changed = gitIn(project, 'diff-tree', '-r', '--no-commit-id', '--no-renames', '--name-status', sha!)
          .split('\n')
          .filter(Boolean)
          .map((l) => `${l.startsWith('A') ? '+' : l.startsWith('D') ? '-' : '~'}${l.split('\t')[1]}`);
        expect(listed, `${id} ${worker}`).toEqual(changed);
      }
    });
  }, 180_000);

  it('a Widget task writes widget files, numbered after the migrations there, and the app still passes its tests; the tests catch a migration numbered twice', async () => {
    const project = await sampleProject();
    dirs.push(project);
    const { send, result } = await startOnProject({ project }, cleanups);
    const r = await result(await send('Add a Widget model with a name, and a REST API for it'));
    expect(r.output.outcome, r.output.issues.join('\n')).toBe('completed');
    expect([...r.output.files_created].sort()).toEqual(['migrations/002_create_widgets.sql', 'src/models/widget.js', 'src/routes/widgets.js']);
    expect(tracked(project).filter((f) => /(^|\/)(task|item)s?\.js$/.test(f))).toEqual([]);
    expect(readFileSync(join(project, 'src/routes/widgets.js'), 'utf8')).toMatch(/router\.post\('\/api\/widgets', async[\s\S]*parseWidget\(req\.body\)/);
    expect(await unparsable(project)).toEqual([]);
    expectWiredIn(project);
    expect((await appTests(project)).code).toBe(0);

    // The sample's checks can fail: a second migration 002 is caught.
    writeFileSync(join(project, 'migrations/002_again.sql'), 'SELECT 1;\n');
    const broken = await appTests(project);
    expect(broken.code).not.toBe(0);
    expect(broken.output).toMatch(/not ok \d+ - migrations are numbered/);
    expect(readdirSync(join(project, 'migrations'))).toContain('002_again.sql');
  }, 120_000);
});
