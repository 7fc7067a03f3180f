import * as app from './scriptedApp.ts';
import { resourceOf, type Resource } from './scriptedResource.ts';

/** A file the stand-in writes whole, or one exact replacement in a file it has read. */
export type FileOp =
  | { tool: 'Write'; path: string; content: string; what: string }
  | { tool: 'Edit'; path: string; old: string; new: string; what: string };

/** What a worker of the stand-in knows when it decides: the task, the plan, and the workspace as its tools showed it. */
export interface ScriptedContext {
  worker: string;
  description: string;
  requirements: readonly string[];
  /** The workers of the plan (the caller's own included). */
  planned: ReadonlySet<string>;
  /** The caller's step has no dependency (nothing ran before it). */
  runsFirst: boolean;
  /** The workspace's files (from Glob). */
  files: ReadonlySet<string>;
  /** Contents of the files read so far. */
  read: ReadonlyMap<string, string>;
  /** Write the planted bugs (app.PLANTED_BUGS) into the code, for a demo of a failing check and its fix round. */
  bug?: boolean;
}

/** The next thing to do: read these files first, or write these (possibly none) and report. */
export type ScriptedStep = { reads: string[] } | { ops: FileOp[]; notes: string[]; issues: string[]; verb?: string };


const has = (text: string, ...words: RegExp[]) => words.some((w) => w.test(text));
const REGISTER = /\b(regist\w*|sign[- ]?ups?)\b/i;
const ROLE = /\b(roles?|role-based|permissions?|admins?)\b/i;
const AUTH = /\b(auth\w*|login|log in|sign[- ]?in|jwt|tokens?|sessions?|passwords?)\b/i;

type Intent = 'register' | 'role' | 'resource';
const intentOf = (description: string): Intent => (has(description, REGISTER) ? 'register' : has(description, ROLE) ? 'role' : 'resource');

const REQUIRE_AUTH = 'src/middleware/requireAuth.js';

const USERS: Resource = { singular: 'user', plural: 'users', model: 'User' };

/** The column definitions of a new table for a resource (a user's include what registration and roles need). */
function columnsOf(r: Resource, usersExist: boolean): string[] {
  if (r.singular === 'user') return ['email TEXT NOT NULL UNIQUE', 'name TEXT NOT NULL', 'password_hash TEXT', "role TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin'))"];
  if (r.singular === 'post' || r.singular === 'article' || r.singular === 'comment' || r.singular === 'note') {
    return ['title TEXT NOT NULL', 'body TEXT NOT NULL', `user_id INTEGER NOT NULL${usersExist ? ' REFERENCES users(id) ON DELETE CASCADE' : ''}`];
  }
  return ['name TEXT NOT NULL'];
}

/** The text fields a create route reads (an owned resource's author comes from the token, never the body). */
function textFields(r: Resource): app.TextField[] {
  return columnsOf(r, false)
    .filter((c) => / TEXT NOT NULL$/.test(c))
    .map((c) => ({ name: c.split(' ')[0]!, max: c.startsWith('body') ? 10_000 : 200 }));
}


/** The next free migration number (after the highest there, never reusing one), three digits. */
function migrationNames(files: ReadonlySet<string>): (name: string) => string {
  let next = 1 + Math.max(0, ...[...files].flatMap((f) => /^migrations\/(\d+)_[^/]*\.sql$/.exec(f)?.[1] ?? []).map(Number));
  return (name) => `migrations/${String(next++).padStart(3, '0')}_${name}.sql`;
}

/** A model file's column list, as the sample app writes it (`columns: ['id', ...]`). */
const COLUMNS_LINE = /^ {2}columns: \[[^\n]*\],$/m;

function dbWork(c: ScriptedContext, intent: Intent, r: Resource): ScriptedStep {
  const ops: FileOp[] = [];
  const notes: string[] = [];
  const migration = migrationNames(c.files);
  if (!c.files.has('src/db.js')) ops.push({ tool: 'Write', path: 'src/db.js', content: app.DB_JS, what: 'the pg pool (src/db.js)' });
  const target = intent === 'resource' ? r : USERS;
  const modelFile = `src/models/${target.singular}.js`;
  if (!c.files.has(modelFile)) {
    const file = migration(`create_${target.plural}`);
    // Rows get an author when the task or the project has sign-in: the routes fill it in from the token.
    const signedIn = has(c.description, AUTH) || c.files.has(REQUIRE_AUTH) || c.planned.has('auth-worker');
    const columns = columnsOf(target, c.files.has('src/models/user.js')).filter((col) => signedIn || !col.startsWith('user_id '));
    ops.push({ tool: 'Write', path: modelFile, content: app.modelJs(target, columns, file), what: `the ${target.model} model (${modelFile})` });
    ops.push({ tool: 'Write', path: file, content: app.migrationCreate(target, columns), what: `the ${target.plural} table (${file})` });
    return { ops, notes, issues: [] };
  }
  if (intent === 'resource') return { ops, notes: [`${target.plural} already has its model (${modelFile}) and table: nothing to add`], issues: [] };
  // An existing users table gets the column the task needs, in a new migration: an applied one is never edited.
  const model = c.read.get(modelFile);
  if (model === undefined) return { reads: [modelFile] };
  const column = intent === 'register' ? { name: 'password_hash', sql: 'password_hash TEXT' } : { name: 'role', sql: "role TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin'))" };
  const line = COLUMNS_LINE.exec(model)?.[0];
  if (line === undefined) return { ops, notes: [], issues: [`${modelFile} has no \`columns: [...]\` line the stand-in can extend: the ${column.name} column was not added`] };
  if (line.includes(`'${column.name}'`)) return { ops, notes: [`users already has ${column.name}: nothing to add`], issues: [] };
  const file = migration(`add_${column.name}_to_users`);
  ops.push({ tool: 'Write', path: file, content: `ALTER TABLE users ADD COLUMN IF NOT EXISTS ${column.sql};\n`, what: `users.${column.name} (${file})` });
  ops.push({ tool: 'Edit', path: modelFile, old: line, new: line.replace(/\],$/, `, '${column.name}'],`), what: `${column.name} in the User model (${modelFile})` });
  return { ops, notes, issues: [] };
}

function authWork(c: ScriptedContext, intent: Intent): ScriptedStep {
  const ops: FileOp[] = [];
  const issues: string[] = [];
  const add = (path: string, content: string, what: string) => {
    if (!c.files.has(path)) ops.push({ tool: 'Write', path, content, what });
  };
  add('src/auth/password.js', app.PASSWORD_JS, 'password hashing with scrypt (src/auth/password.js)');
  add('src/auth/tokens.js', app.TOKENS_JS, 'HS256 JWTs signed with JWT_SECRET (src/auth/tokens.js)');
  add('src/middleware/requireAuth.js', app.REQUIRE_AUTH_JS, 'the requireAuth middleware (src/middleware/requireAuth.js)');
  add('test/auth.test.js', app.AUTH_TEST_JS, 'their tests (test/auth.test.js)');
  if (intent === 'role') {
    add('src/middleware/requireRole.js', app.REQUIRE_ROLE_JS, "the requireRole middleware, which checks the user's role in the database (src/middleware/requireRole.js)");
    add('test/requireRole.test.js', app.REQUIRE_ROLE_TEST_JS, 'its tests (test/requireRole.test.js)');
  }
  if (ops.some((o) => o.path === 'src/auth/password.js') && c.requirements.some((q) => /bcrypt/i.test(q))) {
    issues.push('passwords are hashed with scrypt from node:crypto, not bcrypt: the project has no bcrypt dependency (add bcrypt and swap src/auth/password.js if bcrypt is a must)');
  }
  const notes = ops.length === 0 ? ['authentication is already in place (src/auth, src/middleware/requireAuth.js): nothing to add'] : [];
  return { ops, notes, issues };
}

/** Mounting `file` (a new routes module): nothing when src/routes/index.js mounts every file, else an import and a `router.use`. */
function mount(c: ScriptedContext, file: string, ops: FileOp[]): { reads: string[] } | undefined {
  const index = 'src/routes/index.js';
  if (!c.files.has(index)) {
    ops.push({ tool: 'Write', path: index, content: app.ROUTES_INDEX_JS, what: `${index}, which mounts every routes file` });
    if (!c.files.has('src/app.js')) ops.push({ tool: 'Write', path: 'src/app.js', content: app.APP_JS, what: 'the Express app (src/app.js)' });
    return undefined;
  }
  const content = c.read.get(index);
  if (content === undefined) return { reads: [index] };
  const name = file.replace(/^src\/routes\//, '').replace(/\.js$/, '');
  if (app.mountsEveryFile(content) || content.includes(`'./${name}.js'`)) return undefined;
  const imports = [...content.matchAll(/^import .*;$/gm)];
  const last = imports.at(-1)?.[0];
  const local = name.replace(/[^A-Za-z0-9_$]/g, '_');
  if (last === undefined || !/^export const router = Router\(\);$/m.test(content)) return undefined;
  ops.push({
    tool: 'Write',
    path: index,
    content: `${content.replace(last, `${last}\nimport { router as ${local} } from './${name}.js';`).trimEnd()}\nrouter.use(${local});\n`,
    what: `${file} mounted in ${index}`,
  });
  return undefined;
}

function apiWork(c: ScriptedContext, intent: Intent, r: Resource, note: string): ScriptedStep {
  const ops: FileOp[] = [];
  const issues: string[] = [];
  if (!c.files.has('src/db.js') && !c.planned.has('db-worker')) ops.push({ tool: 'Write', path: 'src/db.js', content: app.DB_JS, what: 'the pg pool (src/db.js)' });
  const authThere = c.files.has(REQUIRE_AUTH) || c.planned.has('auth-worker');
  let file: string;
  if (intent === 'register') {
    file = 'src/routes/users.js';
    if (c.files.has(file)) {
      const existing = c.read.get(file);
      if (existing === undefined) return { reads: [file, ...(c.files.has('src/routes/index.js') ? ['src/routes/index.js'] : [])] };
      if (existing.includes("'/api/users/register'")) return { ops, notes: ['POST /api/users/register is already there: nothing to add'], issues };
      const { imports, code } = app.registerRoute(existing, c.bug === true);
      const lastImport = [...existing.matchAll(/^import .*;$/gm)].at(-1)?.[0];
      const content = lastImport === undefined ? `${imports.join('\n')}\n${existing}` : existing.replace(lastImport, [lastImport, ...imports].join('\n'));
      ops.push({ tool: 'Write', path: file, content: `${content.trimEnd()}\n${code}`, what: `POST /api/users/register, with the email, name and password validated (${file})` });
    } else {
      ops.push({ tool: 'Write', path: file, content: app.usersRoutesJs(c.bug === true), what: `POST /api/users/register, with the email, name and password validated (${file})` });
    }
    if (!c.planned.has('auth-worker') && !c.files.has('src/auth/tokens.js')) issues.push('registration imports src/auth/password.js and src/auth/tokens.js, which no worker of this task writes');
  } else if (intent === 'role') {
    file = 'src/routes/admin.js';
    if (c.files.has(file)) {
      const existing = c.read.get(file);
      if (existing === undefined) return { reads: [file] };
      if (!existing.startsWith(app.ROUTES_MARK)) return { ops, notes: [], issues: [`${file} was not written by the stand-in: left as it is (protect its routes with requireAuth and requireRole('admin'))`] };
    }
    if (!c.planned.has('auth-worker') && !c.files.has('src/middleware/requireRole.js')) issues.push('the admin routes import src/middleware/requireRole.js, which no worker of this task writes');
    ops.push({ tool: 'Write', path: file, content: app.adminRoutesJs(note), what: `GET /api/admin/users and PUT /api/admin/users/:id/role, for signed-in admins only (${file})` });
  } else {
    file = `src/routes/${r.plural}.js`;
    // The table as the model describes it (the db-worker ran first): its text fields, and whether rows have an author.
    const modelFile = `src/models/${r.singular}.js`;
    const wanted = [modelFile, file, 'src/routes/index.js'].filter((f) => c.files.has(f) && !c.read.has(f));
    if (wanted.length > 0) return { reads: wanted };
    const model = c.read.get(modelFile);
    const inModel = (name: string) => model === undefined || model.includes(`'${name}'`);
    const owned = model !== undefined && inModel('user_id');
    const protect = authThere && (owned || has(c.description, AUTH));
    const fields = textFields(r).filter((f) => inModel(f.name));
    if (fields.length === 0) return { ops, notes: [], issues: [`${modelFile} has none of the columns the stand-in knows how to validate (${textFields(r).map((f) => f.name).join(', ')}): no routes written`] };
    const content = app.resourceRoutesJs(r, fields, { owned: owned && protect, protect, note });
    if (c.files.has(file)) {
      const existing = c.read.get(file)!;
      if (!existing.startsWith(app.ROUTES_MARK)) return { ops, notes: [], issues: [`${file} was not written by the stand-in: left as it is`] };
      if (existing === content) return { ops, notes: [`${file} already serves this`], issues };
    }
    if (owned && !protect) issues.push(`no requireAuth middleware in the project: the ${r.plural} routes are not protected, and ${r.plural}.user_id cannot be filled in, so creating one fails`);
    const guarded = protect ? `; creating and deleting need a token${owned ? ', and only the author may delete' : ''}` : '';
    ops.push({ tool: 'Write', path: file, content, what: `GET/POST /api/${r.plural}, GET/DELETE /api/${r.plural}/:id with the body validated${guarded} (${file})` });
  }
  const needs = mount(c, file, ops);
  return needs ?? { ops, notes: [], issues };
}

/**
 * The Globs a worker looks with before deciding: the exact files the
 * decisions below ask about (one pattern, so never cut short at the Glob
 * tool's 100 results: a file taken for missing would be written over), and
 * the migrations, for their numbers.
 *
 * @example
 * looks('Add a Widget model'); // ['{package.json,src/db.js,…,src/models/widget.js,src/routes/widgets.js}', 'migrations/*.sql']
 */
export function looks(description: string): string[] {
  const r = resourceOf(description);
  const exact = new Set([
    'package.json', 'src/db.js', 'src/app.js', 'src/routes/index.js', 'src/models/user.js', 'src/routes/users.js', 'src/routes/admin.js',
    'src/auth/password.js', 'src/auth/tokens.js', REQUIRE_AUTH, 'src/middleware/requireRole.js', 'test/auth.test.js', 'test/requireRole.test.js',
    `src/models/${r.singular}.js`, `src/routes/${r.plural}.js`,
  ]);
  return [`{${[...exact].join(',')}}`, 'migrations/*.sql'];
}

/**
 * What a worker of the stand-in does for a task, given what it has seen:
 * db-worker adds tables and columns in new migrations numbered after the
 * existing ones (never editing one) and the matching model; auth-worker
 * adds hashing, tokens, requireAuth and, for a role task, requireRole,
 * each with a `node --test` test, where they are missing; api-worker adds
 * the routes, validating what it reads from the body, protected with
 * requireAuth where the task asks for it, and mounted. It asks to read a
 * file before changing it.
 */
export function scriptedWork(c: ScriptedContext): ScriptedStep {
  const intent = intentOf(c.description);
  const r = resourceOf(c.description);
  const note = app.noteOf(c.description);
  const step = c.worker === 'db-worker' ? dbWork(c, intent, r) : c.worker === 'auth-worker' ? authWork(c, intent) : c.worker === 'api-worker' ? apiWork(c, intent, r, note) : undefined;
  if (step === undefined) return { ops: [], notes: [], issues: [`${c.worker} has no scripted part`] };
  if ('reads' in step || !c.runsFirst || c.files.has('package.json')) return step;
  return { ...step, ops: [{ tool: 'Write', path: 'package.json', content: app.PACKAGE_JSON, what: 'package.json (ESM, `npm test` runs node --test)' }, ...step.ops] };
}

/**
 * A fix round (the prompt lists failing checks under FIX_ROUND_HEADING):
 * the caller reads the files where it may have planted a bug and replaces
 * each bug it finds with its fix, one Edit per bug. It knows no other
 * fixes: with none of its bugs there, it changes nothing and says so.
 */
export function scriptedFix(c: ScriptedContext): ScriptedStep {
  const mine = app.PLANTED_BUGS.filter((b) => b.worker === c.worker && c.files.has(b.path));
  const unread = [...new Set(mine.filter((b) => !c.read.has(b.path)).map((b) => b.path))];
  if (unread.length > 0) return { reads: unread };
  const ops: FileOp[] = mine
    .filter((b) => c.read.get(b.path)!.includes(b.bug))
    .map((b) => ({ tool: 'Edit', path: b.path, old: b.bug, new: b.fix, what: `${b.what} (${b.path})` }));
  if (ops.length > 0) return { ops, notes: [], issues: [], verb: 'fixed' };
  // No issue of its own: the checks that still fail say what is wrong.
  return { ops, notes: ['found none of its known mistakes in its files: changed nothing for the failing checks'], issues: [] };
}
