import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { git } from '../git/git.ts';
import type { TaskOutput } from '../protocol/output.ts';

/** The sample project's files: a small Express app with a users table. */
const FILES: Record<string, string> = {
  'package.json': `${JSON.stringify(
    { name: 'sample-express-app', version: '0.1.0', type: 'module', scripts: { start: 'node src/app.js' }, dependencies: { express: '^4.21.0', pg: '^8.13.0' } },
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
  'src/routes/index.js': [
    "import { Router } from 'express';",
    "import { router as users } from './users.js';",
    '',
    'export const router = Router();',
    'router.use(users);',
    '',
  ].join('\n'),
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
  const g = output.git;
  if (g) {
    lines.push(`branch:  ${g.branch} (${Object.entries(g.commits).map(([w, sha]) => `${w} ${sha?.slice(0, 7)}`).join(', ') || 'no commits'})`);
    lines.push(g.merged ? `merged:  ${g.merged.slice(0, 7)} (${g.diffstat || 'no changes'})` : `merged:  no${g.conflict ? `, conflict in ${g.conflict.join(', ')}` : ''}`);
  }
  return lines;
}

/** `git log --oneline --graph` of the project, the demo's last word. */
export async function printHistory(project: string, out: (line: string) => void): Promise<void> {
  out(`$ git -C ${project} log --oneline --graph --all`);
  const { stdout } = await git(['log', '--oneline', '--graph', '--all'], { cwd: project });
  for (const line of stdout.trimEnd().split('\n')) out(line);
}
