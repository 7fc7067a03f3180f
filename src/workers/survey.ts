import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { runOffThread } from './threads/pool.ts';
import { DEFAULT_WALK_LIMITS, hardLimitMs, type WalkLimits } from './threads/walkLimits.ts';

/**
 * What is already in a task's workspace, found by looking rather than
 * assumed, so that each worker follows the code that exists instead of
 * inventing a second layout. Paths are relative to `root`, with `/`.
 */
export interface WorkspaceSurvey {
  root: string;
  exists: boolean;
  /** Files seen by the walk (at most `maxFiles`). */
  fileCount: number;
  /** The walk stopped at `maxFiles` (or its time or entry limit): there may be more of everything. */
  truncated: boolean;
  topLevel: string[];
  models: string[];
  routes: string[];
  middleware: string[];
  migrations: string[];
  auth: string[];
  packageJson?: { name?: string; dependencies: string[]; devDependencies: string[] };
}

export interface SurveyOptions {
  /** Files to look at before stopping. Default 2000. */
  maxFiles?: number;
  /** Folder depth below the root. Default 8. */
  maxDepth?: number;
  /** Time and entry limits of the walk (the listener's walkTimeoutMs and walkMaxEntries). */
  walk?: WalkLimits;
}
const SOURCE = /\.(m?[jt]sx?|cjs|cts|py|rb|go|java|kt|cs|php|rs|ex|exs|prisma|sql|graphql|gql)$/i;

type Category = 'models' | 'routes' | 'middleware' | 'migrations' | 'auth';

/** Folder names and file-name parts that mark each category (Express, Nest, Prisma, Sequelize, Django, Rails...). */
const BY_DIR: Readonly<Record<Category, ReadonlySet<string>>> = {
  models: new Set(['models', 'model', 'entities', 'entity', 'schemas', 'prisma']),
  routes: new Set(['routes', 'router', 'routers', 'controllers', 'controller', 'handlers', 'endpoints', 'resolvers', 'views']),
  middleware: new Set(['middleware', 'middlewares', 'guards', 'interceptors']),
  migrations: new Set(['migrations', 'migrate', 'migration']),
  auth: new Set(['auth', 'authentication', 'authorization', 'security', 'passport']),
};
const BY_NAME: Readonly<Record<Category, RegExp>> = {
  models: /(^|[._-])(model|entity|schema)s?\.[^.]+$|\.prisma$/i,
  routes: /(^|[._-])(routes?|router|controller|resolver|handler)s?\.[^.]+$/i,
  middleware: /(^|[._-])(middlewares?|guard)\.[^.]+$/i,
  migrations: /(^|[._-])migrations?[._-]|^\d{8,}[_-]/i,
  auth: /(^|[._-])(auth|authn|authz|jwt|session|passport|permissions?|roles?|rbac)([._-]|\.[^.]+$)/i,
};

function categorise(path: string): Category[] {
  const parts = path.split('/');
  const name = parts.at(-1) ?? path;
  const dirs = new Set(parts.slice(0, -1).map((p) => p.toLowerCase()));
  return (Object.keys(BY_DIR) as Category[]).filter(
    (category) => [...BY_DIR[category]].some((dir) => dirs.has(dir)) || BY_NAME[category].test(name),
  );
}

/** Larger is not a package.json anyone wrote by hand. */
const MAX_PACKAGE_JSON_BYTES = 1024 * 1024;

/**
 * The text of a regular file, or undefined: opened without following a link
 * and without blocking, and checked with fstat before a byte is read, so a
 * FIFO named package.json cannot stall the listener.
 */
function readRegularFile(file: string, maxBytes: number): string | undefined {
  const fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile() || stats.nlink > 1 || stats.size > maxBytes) return undefined;
    const buffer = Buffer.alloc(stats.size);
    const n = stats.size === 0 ? 0 : readSync(fd, buffer, 0, stats.size, 0);
    return buffer.subarray(0, n).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

async function readPackageJson(root: string): Promise<WorkspaceSurvey['packageJson']> {
  try {
    const text = readRegularFile(join(root, 'package.json'), MAX_PACKAGE_JSON_BYTES);
    if (text === undefined) return undefined;
    const json = JSON.parse(text) as Record<string, unknown>;
    const keys = (field: unknown): string[] => (field !== null && typeof field === 'object' ? Object.keys(field) : []);
    const pkg: NonNullable<WorkspaceSurvey['packageJson']> = {
      dependencies: keys(json.dependencies),
      devDependencies: keys(json.devDependencies),
    };
    if (typeof json.name === 'string') pkg.name = json.name;
    return pkg;
  } catch {
    return undefined; // absent or unreadable: the prompt says there is none
  }
}

/**
 * Walks `root` breadth-first (so a cap keeps the top of the tree), skipping
 * dependency and build folders and symbolic links, and sorts the source files
 * it sees into models, routes, middleware, migrations and auth. The walk runs
 * in a worker thread (walk.mjs) with a time and an entry limit, so a folder of
 * 400,000 files never holds the listener's event loop; only the first
 * `maxFiles` paths come back.
 *
 * @example
 * const survey = await surveyWorkspace('/srv/work/task-1');
 * survey.models // ['src/models/user.ts']
 */
export async function surveyWorkspace(root: string, options: SurveyOptions = {}): Promise<WorkspaceSurvey> {
  const walk = options.walk ?? DEFAULT_WALK_LIMITS;
  const survey: WorkspaceSurvey = {
    root, exists: true, fileCount: 0, truncated: false, topLevel: [],
    models: [], routes: [], middleware: [], migrations: [], auth: [],
  };
  const job = { root, maxFiles: options.maxFiles ?? 2000, maxDepth: options.maxDepth ?? 8, ...walk };
  const seen = await runOffThread('survey', job, { limitMs: hardLimitMs(walk.timeoutMs) }).catch(() => undefined);
  // A walk that did not answer at all leaves a survey that says it saw nothing and stopped.
  if (seen === undefined) return { ...survey, truncated: true };
  if (!seen.exists) return { ...survey, exists: false };
  survey.topLevel = seen.topLevel;
  survey.fileCount = seen.files.length;
  survey.truncated = seen.truncated;
  for (const path of seen.files) {
    const name = path.slice(path.lastIndexOf('/') + 1);
    if (SOURCE.test(name)) for (const category of categorise(path)) survey[category].push(path);
  }
  // The walk listed the top level: read package.json only when it is there (or the listing was cut short).
  const pkg = survey.topLevel.includes('package.json') || survey.truncated ? await readPackageJson(root) : undefined;
  if (pkg !== undefined) survey.packageJson = pkg;
  return survey;
}

/** Files shown per category; the rest is counted, and the worker can Glob for it. */
const SHOWN = 25;

/**
 * A path as the prompt shows it: as is when it is made of ordinary
 * characters, else JSON-quoted, so a file named with a newline and a
 * heading (a worker can create one) cannot forge a section of the prompt.
 */
function showPath(path: string): string {
  return /^[\w./@+~-]+$/.test(path) ? path : JSON.stringify(path).replace(/</g, '\\u003c').replace(/>/g, '\\u003e');
}

function list(label: string, paths: readonly string[]): string {
  if (paths.length === 0) return `- ${label}: none found`;
  const shown = paths.slice(0, SHOWN).map(showPath).join(', ');
  return `- ${label}: ${shown}${paths.length > SHOWN ? ` (and ${paths.length - SHOWN} more)` : ''}`;
}

/** The survey as the "Workspace" section of a worker's prompt. */
export function formatSurvey(survey: WorkspaceSurvey): string {
  if (!survey.exists || (survey.fileCount === 0 && !survey.truncated)) {
    return [
      `Workspace: ${survey.root}`,
      `The workspace is empty${survey.exists ? '' : ' (the folder does not exist yet; create it as you write)'}: there is no existing code to follow. Create the layout the framework commonly uses, and say in your summary which layout you chose.`,
    ].join('\n');
  }
  const pkg = survey.packageJson;
  return [
    `Workspace: ${survey.root} (${survey.fileCount} files seen${survey.truncated ? '; the walk stopped there, use Glob to find more' : ''})`,
    `- top level: ${survey.topLevel.map(showPath).join(', ')}`,
    pkg === undefined
      ? '- package.json: none'
      : `- package.json${pkg.name === undefined ? '' : ` (${showPath(pkg.name)})`}: dependencies ${pkg.dependencies.map(showPath).join(', ') || 'none'}; devDependencies ${pkg.devDependencies.map(showPath).join(', ') || 'none'}`,
    list('models', survey.models),
    list('routes and controllers', survey.routes),
    list('middleware', survey.middleware),
    list('migrations', survey.migrations),
    list('auth', survey.auth),
    'Read the files relevant to your part before writing, and follow their conventions (module style, naming, folder layout, error handling).',
  ].join('\n');
}
