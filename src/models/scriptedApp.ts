import type { Resource } from './scriptedResource.ts';

/**
 * The code the scripted stand-in writes: small, dependency-free where it
 * can be (node:crypto for hashing and tokens), in the layout of the demo's
 * sample app (ESM, Express routers in src/routes mounted by
 * src/routes/index.js, pg through src/db.js, numbered SQL migrations,
 * `node --test` tests in test/). Every route validates what it reads from
 * the request; none sends the request body back.
 */

const lines = (...ls: string[]): string => `${ls.join('\n')}\n`;

/** The first line of a generated routes file: the stand-in rewrites only files that start with it. */
export const ROUTES_MARK = '// Routes written by the scripted stand-in for: ';

/** Task text as a one-line comment: printable ASCII, no comment terminator. */
export const noteOf = (task: string): string => task.replace(/[^\x20-\x7e]/g, ' ').replace(/\*\//g, '* /').trim().slice(0, 200);

export const PACKAGE_JSON = `${JSON.stringify(
  { name: 'app', version: '0.1.0', type: 'module', scripts: { start: 'node src/app.js', test: 'node --test' }, dependencies: { express: '^4.21.0', pg: '^8.13.0' } },
  null,
  2,
)}\n`;

export const DB_JS = lines("import pg from 'pg';", '', 'export const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });');

export const APP_JS = lines(
  "import express from 'express';",
  "import { router } from './routes/index.js';",
  '',
  'export const app = express();',
  'app.use(express.json());',
  'app.use(router);',
  '',
  "if (process.argv[1]?.endsWith('app.js')) app.listen(process.env.PORT ?? 3000);",
);

/** Mounts every other module of src/routes: a new routes file is served without editing a shared one. */
export const ROUTES_INDEX_JS = lines(
  "import { readdir } from 'node:fs/promises';",
  "import { Router } from 'express';",
  '',
  'export const router = Router();',
  '',
  '// Every other module in this folder exports a `router`, mounted here in name order: adding a routes',
  '// file is all it takes to serve it, and two changes that add different files never conflict.',
  "const here = new URL('./', import.meta.url);",
  "for (const file of (await readdir(here)).filter((f) => f.endsWith('.js') && f !== 'index.js').sort()) {",
  '  const module = await import(new URL(file, here).href);',
  '  if (!module.router) throw new Error(`src/routes/${file} exports no router: add export const router = Router()`);',
  '  router.use(module.router);',
  '}',
);

/** How src/routes/index.js shows it mounts every file of its folder (the sample app's does). */
export const mountsEveryFile = (index: string): boolean => /readdir\(/.test(index) && /router\.use\(module\.router\)/.test(index);

export function migrationCreate(r: Resource, columns: readonly string[]): string {
  return lines(
    `CREATE TABLE IF NOT EXISTS ${r.plural} (`,
    '  id SERIAL PRIMARY KEY,',
    ...columns.map((c) => `  ${c},`),
    '  created_at TIMESTAMPTZ NOT NULL DEFAULT now()',
    ');',
  );
}

export function modelJs(r: Resource, columns: readonly string[], migration: string): string {
  const names = ['id', ...columns.map((c) => c.split(' ')[0]!), 'created_at'];
  return lines(
    `/** ${r.model}: one row of \`${r.plural}\` (see ${migration}). */`,
    `export const ${r.model} = {`,
    `  table: '${r.plural}',`,
    `  columns: [${names.map((n) => `'${n}'`).join(', ')}],`,
    '};',
  );
}

export const PASSWORD_JS = lines(
  "import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';",
  "import { promisify } from 'node:util';",
  '',
  'const scryptAsync = promisify(scrypt);',
  'const KEY_LENGTH = 64;',
  '',
  '/** `scrypt$<salt>$<hash>` (hex), with a random salt per password: what users.password_hash holds. */',
  'export async function hashPassword(password) {',
  '  const salt = randomBytes(16);',
  '  const hash = await scryptAsync(password, salt, KEY_LENGTH);',
  "  return `scrypt$${salt.toString('hex')}$${hash.toString('hex')}`;",
  '}',
  '',
  '/** Whether `password` is the one `stored` was made from, compared in constant time. */',
  'export async function verifyPassword(password, stored) {',
  "  const [scheme, salt, hash] = String(stored).split('$');",
  "  if (scheme !== 'scrypt' || !salt || !hash) return false;",
  "  const expected = Buffer.from(hash, 'hex');",
  '  if (expected.length !== KEY_LENGTH) return false;',
  "  const actual = await scryptAsync(password, Buffer.from(salt, 'hex'), KEY_LENGTH);",
  '  return timingSafeEqual(actual, expected);',
  '}',
);

export const TOKENS_JS = lines(
  "import { createHmac, timingSafeEqual } from 'node:crypto';",
  '',
  "const encode = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');",
  "const HEADER = encode({ alg: 'HS256', typ: 'JWT' });",
  '',
  'function secret() {',
  '  const value = process.env.JWT_SECRET;',
  "  if (!value) throw new Error('JWT_SECRET is not set: set it to a long random string to sign and check tokens');",
  '  return value;',
  '}',
  '',
  "const sign = (data) => createHmac('sha256', secret()).update(data).digest();",
  '',
  '/** A JWT (HS256) naming the user, valid for `ttlSeconds`. */',
  'export function issueToken(userId, ttlSeconds = 3600) {',
  '  const now = Math.floor(Date.now() / 1000);',
  '  const data = `${HEADER}.${encode({ sub: String(userId), iat: now, exp: now + ttlSeconds })}`;',
  "  return `${data}.${sign(data).toString('base64url')}`;",
  '}',
  '',
  '/** The claims of a token this app signed and that has not expired; null for any other. */',
  'export function verifyToken(token) {',
  "  const [header, payload, signature, ...rest] = String(token).split('.');",
  '  if (header !== HEADER || !payload || !signature || rest.length > 0) return null;',
  '  const expected = sign(`${header}.${payload}`);',
  "  const given = Buffer.from(signature, 'base64url');",
  '  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;',
  '  let claims;',
  '  try {',
  "    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));",
  '  } catch {',
  '    return null;',
  '  }',
  "  return typeof claims?.exp === 'number' && claims.exp > Date.now() / 1000 ? claims : null;",
  '}',
);

export const REQUIRE_AUTH_JS = lines(
  "import { verifyToken } from '../auth/tokens.js';",
  '',
  '/** Lets a request through only with a valid `Authorization: Bearer <token>`; sets req.userId. */',
  'export function requireAuth(req, res, next) {',
  "  const header = req.headers?.authorization ?? '';",
  "  const claims = header.startsWith('Bearer ') ? verifyToken(header.slice(7)) : null;",
  "  if (!claims) return res.status(401).json({ error: 'unauthorized' });",
  '  req.userId = claims.sub;',
  '  return next();',
  '}',
);

export const AUTH_TEST_JS = lines(
  "import assert from 'node:assert/strict';",
  "import { test } from 'node:test';",
  "import { hashPassword, verifyPassword } from '../src/auth/password.js';",
  "import { issueToken, verifyToken } from '../src/auth/tokens.js';",
  '',
  "process.env.JWT_SECRET ??= 'a-secret-for-the-tests-only';",
  '',
  "test('a password verifies against its own hash only', async () => {",
  "  const stored = await hashPassword('correct horse battery staple');",
  "  assert.notEqual(stored, await hashPassword('correct horse battery staple'));",
  "  assert.equal(await verifyPassword('correct horse battery staple', stored), true);",
  "  assert.equal(await verifyPassword('wrong', stored), false);",
  "  assert.equal(await verifyPassword('x', 'not-a-hash'), false);",
  '});',
  '',
  "test('a token names its user until it expires, and a changed one is refused', () => {",
  '  const token = issueToken(42);',
  "  assert.equal(verifyToken(token).sub, '42');",
  '  assert.equal(verifyToken(issueToken(42, -1)), null);',
  "  const [header, , signature] = token.split('.');",
  "  const forged = Buffer.from(JSON.stringify({ sub: '1', exp: 9999999999 })).toString('base64url');",
  '  assert.equal(verifyToken(`${header}.${forged}.${signature}`), null);',
  "  assert.equal(verifyToken('garbage'), null);",
  '});',
);

export const ROLES = ['user', 'admin'] as const;

export const REQUIRE_ROLE_JS = lines(
  '/** The roles a user can have: what the users.role column allows. */',
  `export const ROLES = [${ROLES.map((r) => `'${r}'`).join(', ')}];`,
  '',
  'async function roleFromDatabase(userId) {',
  "  const { pool } = await import('../db.js');",
  "  const { rows } = await pool.query('SELECT role FROM users WHERE id = $1', [userId]);",
  '  return rows[0]?.role;',
  '}',
  '',
  '/**',
  ' * Lets a request through only when its signed-in user (req.userId, set by requireAuth) has',
  ' * `role`. The role is read on every request, so taking it away takes effect at once.',
  ' */',
  'export function requireRole(role, roleOf = roleFromDatabase) {',
  "  if (!ROLES.includes(role)) throw new Error(`unknown role ${role}: use one of ${ROLES.join(', ')}`);",
  '  return async (req, res, next) => {',
  "    if (req.userId === undefined) return res.status(401).json({ error: 'unauthorized' });",
  '    try {',
  "      if ((await roleOf(req.userId)) !== role) return res.status(403).json({ error: 'forbidden' });",
  '      return next();',
  '    } catch (error) {',
  '      return next(error);',
  '    }',
  '  };',
  '}',
);

export const REQUIRE_ROLE_TEST_JS = lines(
  "import assert from 'node:assert/strict';",
  "import { test } from 'node:test';",
  "import { requireRole } from '../src/middleware/requireRole.js';",
  '',
  '/** What the middleware did with a request: called next (with an error or not), or answered. */',
  'function run(middleware, req) {',
  '  return new Promise((resolve) => {',
  '    const res = {',
  '      status(code) {',
  '        this.code = code;',
  '        return this;',
  '      },',
  '      json(body) {',
  '        resolve({ status: this.code, body });',
  '      },',
  '    };',
  '    middleware(req, res, (error) => resolve({ next: true, error }));',
  '  });',
  '}',
  '',
  "test('an admin passes, a user is refused with 403, no signed-in user with 401', async () => {",
  "  const roles = { 1: 'admin', 2: 'user' };",
  "  const adminOnly = requireRole('admin', async (id) => roles[id]);",
  '  assert.deepEqual(await run(adminOnly, { userId: 1 }), { next: true, error: undefined });',
  "  assert.deepEqual(await run(adminOnly, { userId: 2 }), { status: 403, body: { error: 'forbidden' } });",
  "  assert.deepEqual(await run(adminOnly, { userId: 3 }), { status: 403, body: { error: 'forbidden' } });",
  "  assert.deepEqual(await run(adminOnly, {}), { status: 401, body: { error: 'unauthorized' } });",
  '});',
  '',
  "test('a failing role look-up goes to the error handler, and an unknown role is refused at once', async () => {",
  "  const broken = requireRole('admin', async () => {",
  "    throw new Error('database down');",
  '  });',
  "  assert.equal((await run(broken, { userId: 1 })).error.message, 'database down');",
  "  assert.throws(() => requireRole('superuser'), /unknown role superuser/);",
  '});',
);

/** `router.<method>(path, [middleware,] handler)` with errors passed on to Express. */
const route = (method: string, path: string, guards: string, body: string[]): string[] => [
  `router.${method}('${path}', ${guards}async (req, res, next) => {`,
  '  try {',
  ...body.map((l) => `    ${l}`),
  '  } catch (error) {',
  '    return next(error);',
  '  }',
  '});',
];

const ID_CHECK = ["const id = Number(req.params.id);", "if (!Number.isInteger(id) || id < 1) return res.status(400).json({ error: 'id must be a positive integer' });"];

/** A text column's validation: a non-empty string of bounded length, trimmed. */
export interface TextField {
  name: string;
  max: number;
}

/**
 * The routes of a resource: a paged list, one by id, a validated create
 * (only the listed fields are read from the body), and a delete; with
 * `owned`, create and delete need a signed-in user and delete only its own.
 */
export function resourceRoutesJs(r: Resource, fields: readonly TextField[], o: { owned: boolean; protect: boolean; note: string }): string {
  const columns = ['id', ...fields.map((f) => f.name), ...(o.owned ? ['user_id'] : []), 'created_at'].join(', ');
  const guard = o.protect ? 'requireAuth, ' : '';
  const inserted = [...fields.map((f) => f.name), ...(o.owned ? ['user_id'] : [])];
  const values = [...fields.map((f) => `fields.${f.name}`), ...(o.owned ? ['req.userId'] : [])];
  const parse = `parse${r.model}`;
  return lines(
    `${ROUTES_MARK}${o.note}`,
    "import { Router } from 'express';",
    "import { pool } from '../db.js';",
    ...(o.protect ? ["import { requireAuth } from '../middleware/requireAuth.js';"] : []),
    '',
    'export const router = Router();',
    '',
    `const COLUMNS = '${columns}';`,
    '',
    `/** The fields of a new ${r.singular} from a request body, or why it is refused: nothing else of the body is read. */`,
    `function ${parse}(body) {`,
    '  const fields = {};',
    `  for (const [name, max] of [${fields.map((f) => `['${f.name}', ${f.max}]`).join(', ')}]) {`,
    '    const value = body?.[name];',
    "    if (typeof value !== 'string' || value.trim() === '' || value.length > max) {",
    '      return { error: `${name} must be a non-empty string of at most ${max} characters` };',
    '    }',
    '    fields[name] = value.trim();',
    '  }',
    '  return { fields };',
    '}',
    '',
    ...route('get', `/api/${r.plural}`, '', [
      'const limit = Math.min(Math.max(Number.parseInt(req.query.limit, 10) || 20, 1), 100);',
      'const offset = Math.max(Number.parseInt(req.query.offset, 10) || 0, 0);',
      `const { rows } = await pool.query(\`SELECT \${COLUMNS} FROM ${r.plural} ORDER BY id LIMIT $1 OFFSET $2\`, [limit, offset]);`,
      'return res.json(rows);',
    ]),
    '',
    ...route('get', `/api/${r.plural}/:id`, '', [
      ...ID_CHECK,
      `const { rows } = await pool.query(\`SELECT \${COLUMNS} FROM ${r.plural} WHERE id = $1\`, [id]);`,
      `if (rows.length === 0) return res.status(404).json({ error: '${r.singular} not found' });`,
      'return res.json(rows[0]);',
    ]),
    '',
    ...route('post', `/api/${r.plural}`, guard, [
      `const { fields, error } = ${parse}(req.body);`,
      'if (error) return res.status(400).json({ error });',
      `const { rows } = await pool.query(\`INSERT INTO ${r.plural} (${inserted.join(', ')}) VALUES (${inserted.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING \${COLUMNS}\`, [${values.join(', ')}]);`,
      'return res.status(201).json(rows[0]);',
    ]),
    '',
    ...route('delete', `/api/${r.plural}/:id`, guard, [
      ...ID_CHECK,
      ...(o.owned
        ? [
            '// Only its author may delete it: anyone else gets the same 404 as for a missing one.',
            `const { rowCount } = await pool.query('DELETE FROM ${r.plural} WHERE id = $1 AND user_id = $2', [id, req.userId]);`,
          ]
        : [`const { rowCount } = await pool.query('DELETE FROM ${r.plural} WHERE id = $1', [id]);`]),
      `if (rowCount === 0) return res.status(404).json({ error: '${r.singular} not found' });`,
      'return res.status(204).end();',
    ]),
  );
}

/** The email check registration writes: an address with a dot in its domain. */
const EMAIL_LINE = "const EMAIL = /^[^\\s@]+@[^\\s@]+\\.[^\\s@]+$/;";

/**
 * A bug the stand-in writes on purpose when asked to (`scripted.bug`,
 * ORCH_SCRIPTED_BUG), so a demo can show a check failing, then the fix
 * round mending it: `bug` is in `path` where `fix` belongs, and a worker
 * given a fix round replaces one with the other through the Edit tool.
 */
export interface PlantedBug {
  worker: 'api-worker';
  path: string;
  bug: string;
  fix: string;
  what: string;
}

/** Registration's email check without the dot of the domain: `ada@example` gets an account; the sample app's registration test refuses it. */
export const EMAIL_BUG: PlantedBug = {
  worker: 'api-worker',
  path: 'src/routes/users.js',
  bug: EMAIL_LINE.replace('+\\.[^\\s@]+$', '+$'),
  fix: EMAIL_LINE,
  what: 'the email check of POST /api/users/register, which took an address without a dot in its domain',
};

export const PLANTED_BUGS: readonly PlantedBug[] = [EMAIL_BUG];

/** What registration adds to a users routes file: its imports (those missing) and its route (with `bug`, the planted email bug). */
export function registerRoute(existing: string, bug = false): { imports: string[]; code: string } {
  const imports = [
    ["import { pool } from '../db.js';", /from '\.\.\/db\.js'/],
    ["import { hashPassword } from '../auth/password.js';", /\bhashPassword\b/],
    ["import { issueToken } from '../auth/tokens.js';", /\bissueToken\b/],
  ].flatMap(([line, present]) => ((present as RegExp).test(existing) ? [] : [line as string]));
  const code = lines(
    '',
    bug ? EMAIL_BUG.bug : EMAIL_BUG.fix,
    '',
    '/** Registration: a validated email, name and password; answers the new user (never its hash) and a token. */',
    ...route('post', '/api/users/register', '', [
      'const { email, name, password } = req.body ?? {};',
      "if (typeof email !== 'string' || email.length > 254 || !EMAIL.test(email)) return res.status(400).json({ error: 'email must be a valid email address' });",
      "if (typeof name !== 'string' || name.trim() === '' || name.length > 200) return res.status(400).json({ error: 'name must be a non-empty string of at most 200 characters' });",
      "if (typeof password !== 'string' || password.length < 8 || password.length > 200) return res.status(400).json({ error: 'password must be 8 to 200 characters' });",
      'let user;',
      'try {',
      '  const { rows } = await pool.query(',
      "    'INSERT INTO users (email, name, password_hash) VALUES ($1, $2, $3) RETURNING id, email, name, created_at',",
      '    [email.toLowerCase(), name.trim(), await hashPassword(password)],',
      '  );',
      '  user = rows[0];',
      '} catch (error) {',
      "  if (error.code === '23505') return res.status(409).json({ error: 'an account with this email already exists' });",
      '  throw error;',
      '}',
      'return res.status(201).json({ user, token: issueToken(user.id) });',
    ]),
  );
  return { imports, code };
}

/** The users routes file a registration writes when there is none. */
export const usersRoutesJs = (bug = false): string => {
  const { imports, code } = registerRoute('', bug);
  return lines("import { Router } from 'express';", ...imports, '', 'export const router = Router();') + code;
};

export function adminRoutesJs(note: string): string {
  return lines(
    `${ROUTES_MARK}${note}`,
    "import { Router } from 'express';",
    "import { pool } from '../db.js';",
    "import { requireAuth } from '../middleware/requireAuth.js';",
    "import { requireRole, ROLES } from '../middleware/requireRole.js';",
    '',
    'export const router = Router();',
    '',
    '// Every admin route: a valid token first, then the admin role, read from the database.',
    "const adminOnly = [requireAuth, requireRole('admin')];",
    '',
    ...route('get', '/api/admin/users', '...adminOnly, ', [
      "const { rows } = await pool.query('SELECT id, email, name, role, created_at FROM users ORDER BY id');",
      'return res.json(rows);',
    ]),
    '',
    ...route('put', '/api/admin/users/:id/role', '...adminOnly, ', [
      ...ID_CHECK,
      'const role = req.body?.role;',
      "if (!ROLES.includes(role)) return res.status(400).json({ error: `role must be one of ${ROLES.join(', ')}` });",
      "const { rows } = await pool.query('UPDATE users SET role = $1 WHERE id = $2 RETURNING id, email, name, role', [role, id]);",
      "if (rows.length === 0) return res.status(404).json({ error: 'user not found' });",
      'return res.json(rows[0]);',
    ]),
  );
}
