import type { WorkerName } from '../protocol/output.ts';
import type { TaskMessage } from '../protocol/task.ts';
import type { TaskFacts } from './implications.ts';
import { matchKeywords } from './keywords.ts';
import { resourceNames } from './naming.ts';
import { quote } from '../models/fence.ts';

/**
 * Where the auth helpers live and what they are called. api-worker and
 * auth-worker run at the same time, so neither can read the other's output:
 * both are told the same module and names up front.
 */
const AUTH_MODULE = 'the project\'s auth module (an existing auth folder if the workspace has one, otherwise `src/auth/`)';

interface Context {
  task: TaskMessage;
  facts: TaskFacts;
  workers: ReadonlySet<WorkerName>;
}

function has(facts: TaskFacts, worker: WorkerName, keyword: string): boolean {
  return facts.matches[worker].some((hit) => hit.keyword === keyword);
}

/**
 * Which requirements are whose: a requirement goes to every planned worker
 * whose keywords it matches (a `METHOD /path` line also to api-worker); one
 * that matches nobody goes to api-worker, which handles the request, or to
 * every step when there is no api step.
 */
export function requirementsFor(worker: WorkerName, ctx: Context): string[] {
  return ctx.task.payload.requirements.filter((requirement) => {
    const matches = matchKeywords([requirement]);
    const owners = new Set([...ctx.workers].filter((w) => matches[w].length > 0));
    if (/^\s*(GET|POST|PUT|PATCH|DELETE)\s+\//.test(requirement) && ctx.workers.has('api-worker')) owners.add('api-worker');
    if (owners.size === 0) return ctx.workers.has('api-worker') ? worker === 'api-worker' : true;
    return owners.has(worker);
  });
}

function requirementLines(worker: WorkerName, ctx: Context): string[] {
  const mine = requirementsFor(worker, ctx);
  return mine.length === 0 ? [] : [`Requirements that are yours: ${mine.map((r) => quote(r)).join('; ')}.`];
}

function hashing(task: TaskMessage): string {
  const text = [task.payload.description, ...task.payload.requirements].join(' ').toLowerCase();
  if (text.includes('argon2')) return 'argon2';
  if (text.includes('scrypt')) return 'scrypt';
  return 'bcrypt (cost 12)';
}

function dbInstructions(ctx: Context): string[] {
  const { facts, workers } = ctx;
  const lines = [`Own the data layer of: ${quote(ctx.task.payload.description)}.`];
  if (facts.account) {
    lines.push(
      'Create the user model, or extend the existing one if the workspace has it: id, a unique indexed email, a `password_hash` column (never the plain password), created/updated timestamps; and the migration that creates or alters the table.',
    );
  }
  if (facts.roleRename !== undefined) {
    const { from, to } = facts.roleRename;
    lines.push(
      `If roles are stored in the database, write a migration that renames the role "${from}" to "${to}" in place (update the row and keep its id, so users assigned to it keep their access) with a down migration that reverses it; update seeds that create "${from}". If roles exist only in code, change nothing and say so in your summary.`,
    );
  } else if (facts.roleData) {
    const seeds = facts.roleNames.length > 0 ? ` and seed the roles the task names (${facts.roleNames.join(', ')})` : '';
    lines.push(
      `Create role and permission tables: \`roles\`, \`permissions\`, and the join tables \`user_roles\` and \`role_permissions\` (foreign keys, a unique index on each pair), with their migration${seeds}. Reuse existing tables if the workspace already has them.`,
    );
  }
  if (facts.resource !== undefined) {
    const { model, collection } = resourceNames(facts.resource);
    lines.push(
      `Create the \`${model}\` model for ${facts.resource} (table \`${collection}\`): id, the fields the task and requirements name (infer sensible ones, e.g. title and body for posts), created/updated timestamps, and its migration.`,
    );
    if (workers.has('auth-worker')) {
      lines.push(
        `Relate each ${model} to the user who owns it: an indexed foreign key to the user model (e.g. \`author_id\`), with the relation declared on both models; if there is no user model yet, create a minimal one (id, unique email, password_hash).`,
      );
    }
  }
  const mentioned = facts.matches['db-worker'].map((hit) => hit.keyword);
  if (mentioned.length > 0) lines.push(`The task mentions ${mentioned.join(', ')}: those parts are yours.`);
  lines.push(...requirementLines('db-worker', ctx));
  lines.push(
    "Use the ORM and migration tool the project already uses (package.json, existing models and migrations); if it has none, use the framework's common choice and say which in your summary.",
  );
  const later = [...workers].filter((w) => w !== 'db-worker');
  if (later.length > 0) {
    const verb = later.length === 1 ? 'starts' : 'start';
    lines.push(`Name every model, table and file you wrote in your summary: ${later.join(' and ')} ${verb} after you and build on them.`);
  }
  return lines;
}

function authInstructions(ctx: Context): string[] {
  const { facts, workers, task } = ctx;
  const lines = [`Own authentication, authorization and security for: ${quote(task.payload.description)}.`];
  const exports: string[] = [];
  const tokens = has(facts, 'auth-worker', 'token') || has(facts, 'auth-worker', 'jwt');
  if (facts.account) {
    lines.push(
      `Registration logic: validate the email format, reject an email that is already registered, hash the password with ${hashing(task)}, store only the hash, and issue a signed token (JWT) for the new user.`,
    );
    exports.push('`hashPassword(plain)`', '`verifyPassword(plain, hash)`', '`issueToken(user)`', '`verifyToken(token)`');
  }
  if (has(facts, 'auth-worker', 'login')) {
    lines.push(
      'Login: look the user up by email, compare the password hash in constant time, give the same error for an unknown email and a wrong password, and issue a token.',
    );
    if (!exports.includes('`issueToken(user)`')) exports.push('`verifyPassword(plain, hash)`', '`issueToken(user)`', '`verifyToken(token)`');
  }
  if (tokens || facts.account) {
    lines.push(
      'Tokens: sign JWTs with a secret read from the environment (e.g. `JWT_SECRET`, never hard-coded) and an expiry (e.g. 1h); reject expired or tampered tokens.',
    );
  }
  if (has(facts, 'auth-worker', 'session')) {
    lines.push('Sessions: create, look up and invalidate sessions server-side; cookies httpOnly, secure and sameSite.');
  }
  if (has(facts, 'auth-worker', 'password') && !facts.account) {
    lines.push(`Passwords: hash with ${hashing(task)}, never log or return them, compare hashes in constant time.`);
  }
  if (facts.roleRename !== undefined) {
    const { from, to } = facts.roleRename;
    lines.push(
      `Rename the role ${quote(from)} to ${quote(to)} everywhere the code names it: role constants or enums, permission checks, guards and middleware, seeds, fixtures and tests. Keep behaviour identical otherwise; leave no alias unless the requirements ask for one.`,
    );
  } else if (facts.roleData) {
    const role = facts.roleNames[0] ?? 'admin';
    lines.push(
      `Write the permission middleware: \`requireRole(...roles)\` (and \`requirePermission(permission)\` if permissions are checked individually) that reads the authenticated user's roles, answers 401 without a valid token and 403 when the role or permission is missing (e.g. \`requireRole('${role}')\`).`,
    );
    exports.push('`requireAuth`', '`requireRole(...roles)`');
  }
  if (facts.resource !== undefined || (workers.has('api-worker') && exports.length === 0)) {
    lines.push(
      'Write the authentication middleware `requireAuth`: verify the bearer token on incoming requests, attach the user to the request, answer 401 when it is missing or invalid.',
    );
    if (!facts.account && !has(facts, 'auth-worker', 'login')) {
      lines.push('If the project has no way to issue tokens yet (no login), say in `issues` that clients need one to call the protected routes.');
    }
    if (!exports.includes('`requireAuth`')) exports.push('`requireAuth`');
  }
  if (workers.has('db-worker')) {
    lines.push('Build on what db-worker wrote (its summary and files are below); do not write models or migrations yourself.');
  }
  if (workers.has('api-worker') && exports.length > 0) {
    lines.push(
      `Export ${exports.join(', ')} from ${AUTH_MODULE}, with these names adapted to the language's conventions: api-worker writes the routes at the same time as you and imports them by these names. Do not mount routes yourself.`,
    );
  }
  lines.push(...requirementLines('auth-worker', ctx));
  return lines;
}

function apiInstructions(ctx: Context): string[] {
  const { facts, workers, task } = ctx;
  const auth = workers.has('auth-worker');
  const lines = [`Own the HTTP surface of: ${quote(task.payload.description)}.`];
  const registerRoute = facts.account ? (facts.routes.find((r) => /register/i.test(r)) ?? 'POST /api/users/register') : undefined;
  const otherRoutes = facts.routes.filter((r) => r !== registerRoute);
  if (otherRoutes.length > 0) lines.push(`Add the routes ${otherRoutes.map((r) => `\`${r}\``).join(', ')}.`);
  if (registerRoute !== undefined) {
    // `account` comes from the register keyword, so auth-worker is always in this plan.
    lines.push(
      `\`${registerRoute}\`: validate the body (email format, password present and at least 8 characters), hash the password with auth-worker's \`hashPassword\`, create the user through the user model, issue the token with auth-worker's \`issueToken\`, and answer 201 with the token and the user (never the password hash), 400 for invalid input, 409 when the email is already registered.`,
    );
  }
  if (facts.resource !== undefined) {
    const { model, collection } = resourceNames(facts.resource);
    const base = `/api/${collection}`;
    lines.push(
      `CRUD routes for ${facts.resource} on the \`${model}\` model: \`GET ${base}\` (paginated list), \`GET ${base}/:id\`, \`POST ${base}\`, \`PATCH ${base}/:id\`, \`DELETE ${base}/:id\`; validate request bodies, answer 404 for unknown ids and 400 for invalid input.`,
    );
    if (auth) {
      lines.push(`Protect the writes with auth-worker's \`requireAuth\` middleware; only the author may update or delete a ${model}.`);
    }
  }
  if (facts.roleData && facts.roleRename === undefined) {
    const role = facts.roleNames[0] ?? 'admin';
    const scope = facts.routeScope ?? role;
    lines.push(
      `Protect the ${scope} routes with auth-worker's \`requireRole('${role}')\` (after \`requireAuth\`): apply it where those routes are mounted (router level) so every one of them is covered, including routes added later; leave the other routes as they are.`,
    );
  } else if (auth && facts.resource === undefined && !facts.account) {
    lines.push("Apply auth-worker's `requireAuth` middleware to the routes that need an authenticated user.");
  }
  if (auth) {
    lines.push(`Import the auth helpers from ${AUTH_MODULE}; do not implement hashing, tokens or permission checks yourself.`);
  }
  const mentioned = facts.matches['api-worker'].map((hit) => hit.keyword);
  if (mentioned.length > 0) lines.push(`The task mentions ${mentioned.join(', ')}: those parts are yours.`);
  lines.push(...requirementLines('api-worker', ctx));
  lines.push('Mount the routes the way the project already does (see the workspace), and keep status codes and error bodies consistent with the existing routes.');
  return lines;
}

/** The `instructions` of one step of a keyword plan: specific to the task and to the worker's lane. */
export function buildInstructions(worker: WorkerName, ctx: Context): string {
  const lines =
    worker === 'db-worker' ? dbInstructions(ctx) : worker === 'auth-worker' ? authInstructions(ctx) : apiInstructions(ctx);
  return lines.join('\n');
}

export type { Context as InstructionContext };
