import { WORKER_NAMES, type WorkerName } from '../protocol/output.ts';
import type { TaskMessage } from '../protocol/task.ts';

/** The keyword routing table of ARCHITECTURE.md, exactly. */
export const KEYWORDS: Readonly<Record<WorkerName, readonly string[]>> = {
  'api-worker': ['endpoint', 'route', 'rest', 'graphql', 'controller', 'middleware', 'request', 'response', 'http'],
  'db-worker': ['database', 'schema', 'model', 'migration', 'query', 'orm', 'relation', 'table', 'index'],
  'auth-worker': ['auth', 'login', 'register', 'token', 'jwt', 'session', 'password', 'permission', 'role'],
};

/**
 * The word forms that count as each keyword. An explicit list rather than a
 * stemmer or a prefix test: prefixes give false positives ("tablet" is not a
 * table, "authorship" is not auth, "registry" is not register), stemmers miss
 * derived forms that mean the same thing ("authorization", "relationship").
 *
 * Decisions worth knowing:
 * - verb forms that describe the work count ("migrating", "indexed",
 *   "registered"); "requested" does not (it is the verb "to ask", not an HTTP
 *   request);
 * - "reindex" is index work (REINDEX is a database operation);
 * - "db" is database, "router" is route, "oauth", "authn", "authz" and
 *   "unauthorized" are auth; "author", "authority" and "authorship" are not;
 * - "rest" and "login" have context rules, see {@link matchKeywords}.
 */
const FORMS: Readonly<Record<WorkerName, Readonly<Record<string, readonly string[]>>>> = {
  'api-worker': {
    endpoint: ['endpoint', 'endpoints'],
    route: ['route', 'routes', 'routed', 'routing', 'router', 'routers'],
    rest: ['restful'],
    graphql: ['graphql'],
    controller: ['controller', 'controllers'],
    middleware: ['middleware', 'middlewares'],
    request: ['request', 'requests'],
    response: ['response', 'responses'],
    http: ['http', 'https'],
  },
  'db-worker': {
    database: ['database', 'databases', 'db', 'dbs'],
    schema: ['schema', 'schemas', 'schemata'],
    model: ['model', 'models', 'modelling', 'modeling', 'modelled', 'modeled'],
    migration: ['migration', 'migrations', 'migrate', 'migrates', 'migrated', 'migrating'],
    query: ['query', 'queries', 'queried', 'querying'],
    orm: ['orm', 'orms'],
    relation: ['relation', 'relations', 'relational', 'relationship', 'relationships'],
    table: ['table', 'tables'],
    index: ['index', 'indexes', 'indices', 'indexed', 'indexing', 'reindex', 'reindexing'],
  },
  'auth-worker': {
    auth: [
      'auth', 'authn', 'authz', 'oauth', 'oauth2',
      'authenticate', 'authenticates', 'authenticated', 'authenticating', 'authentication', 'authenticator',
      'unauthenticated',
      'authorize', 'authorizes', 'authorized', 'authorizing', 'authorization',
      'authorise', 'authorises', 'authorised', 'authorising', 'authorisation',
      'unauthorized', 'unauthorised',
    ],
    login: ['login', 'logins'],
    register: ['register', 'registers', 'registered', 'registering', 'registration', 'registrations'],
    token: ['token', 'tokens'],
    jwt: ['jwt', 'jwts'],
    session: ['session', 'sessions'],
    password: ['password', 'passwords', 'passwordless'],
    permission: ['permission', 'permissions'],
    role: ['role', 'roles'],
  },
};

/** Lower-case "rest" means REST only before one of these ("rest api"); otherwise it is "the rest of". */
const AFTER_LOWERCASE_REST = new Set(['api', 'apis', 'endpoint', 'endpoints', 'service', 'services', 'interface']);

/** "logged in" is login; a bare "log in" is not ("add a log in the handler"). */
const LOGIN_PHRASE_FIRST = new Set(['logged', 'logging']);

/** One keyword a task matched, and the words of the task that matched it. */
export interface KeywordHit {
  keyword: string;
  /** Lower-cased, in order of first appearance, without repeats ("logged in" for phrases). */
  words: string[];
}

/** Per worker, the keywords matched, in the order of {@link KEYWORDS}. */
export type KeywordMatches = Record<WorkerName, KeywordHit[]>;

interface Token {
  text: string;
  lower: string;
  /** Character right after the token, to tell file names ("index.ts") from words. */
  next: string;
  afterNext: string;
}

const WORD = /[\p{L}\p{N}]+/gu;

function tokenise(text: string): Token[] {
  return [...text.matchAll(WORD)].map((m) => {
    const end = m.index + m[0].length;
    return { text: m[0], lower: m[0].toLowerCase(), next: text.charAt(end), afterNext: text.charAt(end + 1) };
  });
}

const LOOKUP: ReadonlyMap<string, { worker: WorkerName; keyword: string }> = new Map(
  WORKER_NAMES.flatMap((worker) =>
    Object.entries(FORMS[worker]).flatMap(([keyword, forms]) => forms.map((form) => [form, { worker, keyword }] as const)),
  ),
);

/** Which keyword a token stands for, applying the context rules; undefined when none. */
function keywordOf(tokens: readonly Token[], i: number): { worker: WorkerName; keyword: string; word: string } | undefined {
  const token = tokens[i];
  if (token === undefined) return undefined;
  const following = tokens[i + 1]?.lower;
  if (token.lower === 'rest') {
    // REST in capitals is the architecture; lower-case "rest" is usually "the rest of".
    const isRest = token.text === 'REST' || (following !== undefined && AFTER_LOWERCASE_REST.has(following));
    return isRest ? { worker: 'api-worker', keyword: 'rest', word: 'rest' } : undefined;
  }
  if (LOGIN_PHRASE_FIRST.has(token.lower) && following === 'in') {
    return { worker: 'auth-worker', keyword: 'login', word: `${token.lower} in` };
  }
  const hit = LOOKUP.get(token.lower);
  if (hit === undefined) return undefined;
  // index.ts / index.js is a module entry point, not a database index.
  if (hit.keyword === 'index' && token.next === '.' && /\p{L}/u.test(token.afterNext)) return undefined;
  return { ...hit, word: token.lower };
}

function emptyMatches(): KeywordMatches {
  return { 'api-worker': [], 'db-worker': [], 'auth-worker': [] };
}

/**
 * Matches the routing keywords in some texts: whole words and their listed
 * forms only, case-insensitive (except that lower-case "rest" needs "api" or
 * similar after it).
 *
 * @example
 * matchKeywords(['Create user registration endpoint'])['auth-worker']
 * // [{ keyword: 'register', words: ['registration'] }]
 */
export function matchKeywords(texts: readonly string[]): KeywordMatches {
  const found = new Map<string, { worker: WorkerName; keyword: string; words: string[] }>();
  for (const text of texts) {
    const tokens = tokenise(text);
    for (let i = 0; i < tokens.length; i++) {
      const hit = keywordOf(tokens, i);
      if (hit === undefined) continue;
      const key = `${hit.worker}:${hit.keyword}`;
      const entry = found.get(key) ?? { worker: hit.worker, keyword: hit.keyword, words: [] };
      if (!entry.words.includes(hit.word)) entry.words.push(hit.word);
      found.set(key, entry);
    }
  }
  const matches = emptyMatches();
  for (const worker of WORKER_NAMES) {
    for (const keyword of KEYWORDS[worker]) {
      const entry = found.get(`${worker}:${keyword}`);
      if (entry !== undefined) matches[worker].push({ keyword, words: entry.words });
    }
  }
  return matches;
}

/** The texts a task is routed on: its description and each requirement (not `context`, whose keys are not requests). */
export function taskTexts(task: TaskMessage): string[] {
  return [task.payload.description, ...task.payload.requirements];
}

/** {@link matchKeywords} over a task's description and requirements. */
export function matchTaskKeywords(task: TaskMessage): KeywordMatches {
  return matchKeywords(taskTexts(task));
}

/** Workers with at least one matched keyword, in {@link WORKER_NAMES} order. */
export function matchedWorkers(matches: KeywordMatches): WorkerName[] {
  return WORKER_NAMES.filter((worker) => matches[worker].length > 0);
}

/** `register ("registration"), endpoint ("endpoints")`, for reasons and notes. */
export function describeHits(hits: readonly KeywordHit[]): string {
  return hits.map((hit) => `${hit.keyword} (${hit.words.map((w) => `"${w}"`).join(', ')})`).join(', ');
}

/** The whole table as one line, for the note of a plan that matched nothing. */
export function describeKeywordTable(): string {
  return WORKER_NAMES.map((worker) => `${worker}: ${KEYWORDS[worker].join(', ')}`).join('; ');
}
