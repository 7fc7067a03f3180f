import type { Resource } from './scriptedResource.ts';

export interface ScriptedFile {
  path: string;
  content: string;
}

function columns(r: Resource): string[] {
  if (r.singular === 'user') return ['email TEXT NOT NULL UNIQUE', 'password_hash TEXT NOT NULL'];
  if (r.singular === 'post' || r.singular === 'article') {
    return ['title TEXT NOT NULL', 'body TEXT NOT NULL', 'user_id INTEGER REFERENCES users(id) ON DELETE CASCADE'];
  }
  return ['name TEXT NOT NULL'];
}

function dbFiles(r: Resource): ScriptedFile[] {
  const cols = columns(r);
  const names = cols.map((c) => c.split(' ')[0]);
  return [
    {
      path: `src/models/${r.singular}.js`,
      content: [
        `/** ${r.model}: one row of \`${r.plural}\` (see migrations/001_create_${r.plural}.sql). */`,
        `export const ${r.model} = {`,
        `  table: '${r.plural}',`,
        `  columns: ['id', ${names.map((n) => `'${n}'`).join(', ')}, 'created_at'],`,
        '};',
        '',
      ].join('\n'),
    },
    {
      path: `migrations/001_create_${r.plural}.sql`,
      content: [
        `CREATE TABLE IF NOT EXISTS ${r.plural} (`,
        '  id SERIAL PRIMARY KEY,',
        ...cols.map((c) => `  ${c},`),
        '  created_at TIMESTAMPTZ NOT NULL DEFAULT now()',
        ');',
        '',
      ].join('\n'),
    },
  ];
}

const AUTH_FILES: ScriptedFile[] = [
  {
    path: 'src/auth/password.js',
    content: [
      "import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';",
      '',
      'export function hashPassword(password) {',
      "  const salt = randomBytes(16).toString('hex');",
      "  return `${salt}:${scryptSync(password, salt, 64).toString('hex')}`;",
      '}',
      '',
      'export function verifyPassword(password, stored) {',
      "  const [salt, hash] = stored.split(':');",
      "  return timingSafeEqual(Buffer.from(hash, 'hex'), scryptSync(password, salt, 64));",
      '}',
      '',
    ].join('\n'),
  },
  {
    path: 'src/auth/tokens.js',
    content: [
      "import { createHmac } from 'node:crypto';",
      '',
      'const secret = () => process.env.JWT_SECRET;',
      "const sign = (body) => createHmac('sha256', secret()).update(body).digest('base64url');",
      '',
      'export function issueToken(userId, ttlSeconds = 3600) {',
      "  const body = Buffer.from(JSON.stringify({ sub: userId, exp: Date.now() / 1000 + ttlSeconds })).toString('base64url');",
      '  return `${body}.${sign(body)}`;',
      '}',
      '',
      'export function verifyToken(token) {',
      "  const [body, signature] = String(token).split('.');",
      '  if (!body || sign(body) !== signature) return null;',
      "  const claims = JSON.parse(Buffer.from(body, 'base64url').toString());",
      '  return claims.exp > Date.now() / 1000 ? claims : null;',
      '}',
      '',
    ].join('\n'),
  },
  {
    path: 'src/middleware/requireAuth.js',
    content: [
      "import { verifyToken } from '../auth/tokens.js';",
      '',
      'export function requireAuth(req, res, next) {',
      "  const claims = verifyToken((req.headers.authorization ?? '').replace(/^Bearer /, ''));",
      "  if (!claims) return res.status(401).json({ error: 'unauthorized' });",
      '  req.userId = claims.sub;',
      '  return next();',
      '}',
      '',
    ].join('\n'),
  },
];

function apiFiles(r: Resource, task: string): ScriptedFile[] {
  // The task's own words head the file: two tasks on one resource write different routes (and can conflict).
  const note = task.replace(/[^\x20-\x7e]/g, ' ').trim().slice(0, 200);
  return [
    {
      path: `src/routes/${r.plural}.js`,
      content: [
        ...(note ? [`// ${note}`] : []),
        "import { Router } from 'express';",
        `import { ${r.model} } from '../models/${r.singular}.js';`,
        '',
        'export const router = Router();',
        '',
        `router.get('/api/${r.plural}', async (req, res) => res.json({ table: ${r.model}.table, items: [] }));`,
        `router.post('/api/${r.plural}', async (req, res) => res.status(201).json({ ...req.body }));`,
        '',
      ].join('\n'),
    },
  ];
}

/** The files a scripted worker writes for a resource (`task`: the task's description); unknown workers write nothing. */
export function scriptedFiles(worker: string, r: Resource, task = ''): ScriptedFile[] {
  if (worker === 'db-worker') return dbFiles(r);
  if (worker === 'auth-worker') return AUTH_FILES;
  if (worker === 'api-worker') return apiFiles(r, task);
  return [];
}

/**
 * What an api-worker reads before writing: the model when its prompt names
 * it (a dependency's output), and the routes file it is about to replace
 * when the workspace survey shows one is already there.
 */
export function scriptedReads(worker: string, r: Resource, prompt: string): string[] {
  if (worker !== 'api-worker') return [];
  return [`src/models/${r.singular}.js`, `src/routes/${r.plural}.js`].filter((file) => prompt.includes(file));
}
