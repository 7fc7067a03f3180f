import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { checksOf } from '../client/checks.ts';
import type { ResultRecord } from '../client/wait.ts';
import { git } from '../git/git.ts';
import { ROUTES_INDEX_JS } from '../models/scriptedApp.ts';
import type { TaskOutput } from '../protocol/output.ts';
import { checkLine } from './render.ts';


/** The checks the demo declares: the sample project's own `node --test`, which needs no install. */
export const DEMO_CHECKS = ['node --test'];

/**
 * The sample project's files: a small Express app with a users table, its
 * routes mounted by src/routes/index.js (every file of the folder), and
 * its own dependency-free `node --test` checks (every module parses, every
 * routes file is a router, migrations numbered without gap, every model's
 * table and columns created by a migration).
 */
const FILES: Record<string, string> = {
  'package.json': `${JSON.stringify(
    { name: 'sample-express-app', version: '0.1.0', type: 'module', scripts: { start: 'node src/app.js', test: 'node --test' }, dependencies: { express: '^4.21.0', pg: '^8.13.0' } },
    null,
    2,
  )}\n`,
  '.gitignore': 'node_modules/\n.env\n',
  'src/app.js': [
    "import express from 'express';",
    "import { router } from './routes/index.js';",
    '',
    'export const app = express();',
    'app.use(express.json());',
    'app.use(router);',
    '',
    "if (process.argv[1]?.endsWith('app.js')) app.listen(process.env.PORT ?? 3000);",
    '',
  ].join('\n'),
  'src/db.js': ["import pg from 'pg';", '', 'export const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });', ''].join('\n'),
  'src/models/user.js': [
    '/** User: one row of `users` (see migrations/001_create_users.sql). */',
    'export const User = {',
    "  table: 'users',",
    "  columns: ['id', 'email', 'name', 'created_at'],",
    '};',
    '',
  ].join('\n'),
  'src/routes/index.js': ROUTES_INDEX_JS,
  'src/routes/users.js': [
    "import { Router } from 'express';",
    "import { pool } from '../db.js';",
    '',
    'export const router = Router();',
    '',
    "router.get('/api/users', async (req, res) => {",
    "  const { rows } = await pool.query('SELECT id, email, name, created_at FROM users ORDER BY id');",
    '  res.json(rows);',
    '});',
    '',
  ].join('\n'),
  // The app's own checks, dependency-free (no npm install needed): `npm test` runs them, with
  // whatever tests the tasks add beside them.
  'test/app.test.js': [
    "import assert from 'node:assert/strict';",
    "import { spawnSync } from 'node:child_process';",
    "import { existsSync, readdirSync, readFileSync } from 'node:fs';",
    "import { join } from 'node:path';",
    "import { test } from 'node:test';",
    "import { fileURLToPath } from 'node:url';",
    '',
    "const root = fileURLToPath(new URL('..', import.meta.url));",
    "const filesIn = (dir, ext) => (existsSync(join(root, dir)) ? readdirSync(join(root, dir), { recursive: true }) : [])",
    '  .filter((f) => f.endsWith(ext))',
    '  .map((f) => join(dir, f))',
    '  .sort();',
    "const read = (file) => readFileSync(join(root, file), 'utf8');",
    '',
    "test('every module parses', () => {",
    "  for (const file of [...filesIn('src', '.js'), ...filesIn('test', '.js')]) {",
    "    const run = spawnSync(process.execPath, ['--check', join(root, file)], { encoding: 'utf8' });",
    '    assert.equal(run.status, 0, `${file}: ${run.stderr}`);',
    '  }',
    '});',
    '',
    "test('every routes module exports the router src/routes/index.js mounts', () => {",
    "  assert.match(read('src/routes/index.js'), /router\\.use\\(module\\.router\\)/);",
    "  for (const file of filesIn('src/routes', '.js').filter((f) => !f.endsWith('index.js'))) {",
    "    assert.match(read(file), /^export const router = Router\\(\\);$/m, `${file} exports no router`);",
    '  }',
    '});',
    '',
    "test('migrations are numbered 001, 002, ... with no gap and no number twice', () => {",
    "  const numbers = filesIn('migrations', '.sql').map((f) => /^migrations\\/(\\d{3})_[a-z0-9_]+\\.sql$/.exec(f)?.[1] ?? f);",
    "  assert.deepEqual(numbers, numbers.map((_, i) => String(i + 1).padStart(3, '0')));",
    '});',
    '',
    "test('every model names a table and columns its migrations create', async () => {",
    '  const tables = new Map();',
    "  for (const file of filesIn('migrations', '.sql')) {",
    '    const sql = read(file);',
    '    for (const [, table, body] of sql.matchAll(/CREATE TABLE IF NOT EXISTS (\\w+) \\(([\\s\\S]*?)\\n\\);/g)) {',
    '      tables.set(table, new Set(body.split(\',\\n\').map((line) => line.trim().split(\' \')[0])));',
    '    }',
    '    for (const [, table, column] of sql.matchAll(/ALTER TABLE (\\w+) ADD COLUMN (?:IF NOT EXISTS )?(\\w+)/g)) tables.get(table)?.add(column);',
    '  }',
    "  for (const file of filesIn('src/models', '.js')) {",
    '    for (const model of Object.values(await import(join(root, file)))) {',
    '      assert.ok(tables.has(model.table), `${file}: no migration creates ${model.table}`);',
    '      for (const column of model.columns) assert.ok(tables.get(model.table).has(column), `${file}: ${model.table}.${column} is in no migration`);',
    '    }',
    '  }',
    '});',
    '',
  ].join('\n'),
  // What the api-worker's registration route does, run against stand-ins for express and pg (still no install).
  'test/registration.test.js': [
    "import assert from 'node:assert/strict';",
    "import { readFileSync } from 'node:fs';",
    "import { register } from 'node:module';",
    "import { test } from 'node:test';",
    '',
    '// Stand-ins for express and pg, so the routes run without `npm install` and without a database:',
    '// a Router records its routes, the pool answers a query with a row made of the values it was given.',
    'const STUBS = {',
    "  express: \"export function Router() { const r = { routes: [], use() {} }; for (const m of ['get', 'post', 'put', 'delete']) r[m] = (path, ...handlers) => r.routes.push({ method: m, path, handler: handlers.at(-1) }); return r; } export default Object.assign(() => ({ use() {}, listen() {} }), { json: () => {}, Router });\",",
    '  pg: "export default { Pool: class { async query(sql, values = []) { return { rows: [{ id: 1, email: values[0], name: values[1] }], rowCount: 1 }; } } };",',
    '};',
    'const HOOKS = `const stubs = ${JSON.stringify(STUBS)};',
    'export async function resolve(specifier, context, next) {',
    "  return Object.hasOwn(stubs, specifier) ? { url: 'data:text/javascript,' + encodeURIComponent(stubs[specifier]), shortCircuit: true } : next(specifier, context);",
    '}`;',
    'register(`data:text/javascript,${encodeURIComponent(HOOKS)}`);',
    "process.env.JWT_SECRET ??= 'a-secret-for-the-tests-only';",
    '',
    "/** What a route's handler answers a request with this body: status and JSON, or the error it passed on. */",
    'async function call(handler, body) {',
    '  const answer = {};',
    '  const res = {',
    '    status(code) {',
    '      answer.status = code;',
    '      return this;',
    '    },',
    '    json(value) {',
    '      answer.body = value;',
    '      return this;',
    '    },',
    '  };',
    '  await handler({ body, headers: {}, params: {}, query: {} }, res, (error) => (answer.error = error));',
    '  return answer;',
    '}',
    '',
    "const usersRoutes = new URL('../src/routes/users.js', import.meta.url);",
    '',
    "test('registration answers a valid sign-up with a token, and refuses a malformed email, name or password', async (t) => {",
    "  if (!readFileSync(usersRoutes, 'utf8').includes(\"'/api/users/register'\")) return t.skip('no registration route yet');",
    '  const { router } = await import(usersRoutes.href);',
    "  const { handler } = router.routes.find((r) => r.method === 'post' && r.path === '/api/users/register');",
    "  const valid = { email: 'ada@example.com', name: 'Ada', password: 'correct horse battery' };",
    '  const created = await call(handler, valid);',
    '  assert.equal(created.status, 201, JSON.stringify(created));',
    "  assert.equal(typeof created.body.token, 'string');",
    "  for (const email of ['', 'ada', 'ada@', '@example.com', 'ada@example', 'ada @example.com', 42]) {",
    '    assert.equal((await call(handler, { ...valid, email })).status, 400, `the email ${JSON.stringify(email)} was taken by src/routes/users.js`);',
    '  }',
    "  assert.equal((await call(handler, { ...valid, name: '  ' })).status, 400, 'a blank name was taken by src/routes/users.js');",
    "  assert.equal((await call(handler, { ...valid, password: 'short' })).status, 400, 'a 5-character password was taken by src/routes/users.js');",
    "  assert.equal((await call(handler, undefined)).status, 400, 'a request without a body was taken by src/routes/users.js');",
    '});',
    '',
  ].join('\n'),
  'migrations/001_create_users.sql': [
    'CREATE TABLE IF NOT EXISTS users (',
    '  id SERIAL PRIMARY KEY,',
    '  email TEXT NOT NULL UNIQUE,',
    '  name TEXT NOT NULL,',
    '  created_at TIMESTAMPTZ NOT NULL DEFAULT now()',
    ');',
    '',
  ].join('\n'),
};

/**
 * Creates the sample project under git in `dir` (which must be empty or
 * missing): an Express app with a users table, committed on `main`.
 */
export async function createSampleProject(dir: string): Promise<void> {
  for (const [file, content] of Object.entries(FILES)) {
    await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
    await writeFile(path.join(dir, file), content);
  }
  const identity = { name: 'Sample Developer', email: 'dev@example.com' };
  await git(['init', '-q', '-b', 'main'], { cwd: dir });
  await git(['add', '-A'], { cwd: dir });
  await git(['commit', '-q', '-m', 'Sample Express app with a users table'], { cwd: dir, identity });
}

/** What the demo prints about a task's place in the project: files it changed there, its branch and merge. */
export function projectLines(output: Partial<TaskOutput>): string[] {
  const lines = [`changed: ${output.files_modified?.join(', ') || 'none'}`];
  if (output.files_deleted?.length) lines.push(`removed: ${output.files_deleted.join(', ')}`);
  const g = output.git;
  if (g) {
    lines.push(`branch:  ${g.branch} (${Object.entries(g.commits).map(([w, sha]) => `${w} ${sha?.slice(0, 7)}`).join(', ') || 'no commits'})`);
    lines.push(g.merged ? `merged:  ${g.merged.slice(0, 7)} (${g.diffstat || 'no changes'})` : `merged:  no${g.conflict ? `, conflict in ${g.conflict.join(', ')}` : ''}`);
  }
  return lines;
}

/**
 * What the demo prints about one task's result, and why it is not a clean
 * run (undefined when it is): not completed, a check still failing (a
 * `completed_with_warnings` that `status` alone would call completed), or
 * its branch not merged.
 */
export function taskSummary(description: string, record: ResultRecord | undefined): { lines: string[]; failure: string | undefined } {
  const output = record?.output ? (JSON.parse(record.output) as TaskOutput) : undefined;
  const lines = [description, `  status:  ${record?.status ?? 'no result'}${output ? ` (${output.outcome})` : ''}${record?.error ? `: ${record.error}` : ''}`];
  const checks = checksOf(output?.checks);
  if (output) {
    lines.push(`  workers: ${output.workers_used.join(', ')}`);
    lines.push(`  files:   ${output.files_created.join(', ') || 'none'}`);
    lines.push(`  in:      ${output.workspace ?? '?'}`);
    checks.forEach((c, i) => lines.push(`  ${i === 0 ? 'checks: ' : '        '} ${checkLine(c)}`));
    for (const line of projectLines(output)) lines.push(`  ${line}`);
  }
  const failing = checks.filter((c) => !c.passed).map((c) => c.command);
  const failure =
    !output || record?.status !== 'completed'
      ? `${record?.status ?? 'no result'}${record?.error ? `: ${record.error}` : ''}`
      : failing.length > 0
        ? `${output.outcome}: checks still failing (${failing.join(', ')})`
        : output.git && !output.git.merged
          ? `${output.outcome}: its branch ${output.git.branch} was not merged`
          : undefined;
  return { lines, failure };
}

/** `git log --oneline --graph` of the project, the demo's last word. */
export async function printHistory(project: string, out: (line: string) => void): Promise<void> {
  out(`$ git -C ${project} log --oneline --graph --all`);
  const { stdout } = await git(['log', '--oneline', '--graph', '--all'], { cwd: project });
  for (const line of stdout.trimEnd().split('\n')) out(line);
}
