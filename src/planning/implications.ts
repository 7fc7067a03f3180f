import type { TaskMessage } from '../protocol/task.ts';
import { matchKeywords, matchTaskKeywords, taskTexts, type KeywordMatches } from './keywords.ts';

/**
 * What a task implies beyond its keywords (ARCHITECTURE.md: "keywords alone
 * miss some of these"). Each field is one rule; the keyword planner turns the
 * rules that fire into steps and the instructions of each step.
 */
export interface TaskFacts {
  matches: KeywordMatches;
  /** Rule "new account": registration creates accounts, which need a user model. */
  account: boolean;
  /** Rule "roles are data": role-based access (or a change to a role) needs role and permission tables. */
  roleData: boolean;
  /** A role being renamed, e.g. `Rename the "admin" role to "owner"`. */
  roleRename: { from: string; to: string } | undefined;
  /** Role names the task mentions (quoted, or common ones such as admin). */
  roleNames: string[];
  /** Rule "new resource": `Create an API for blog posts` → "blog posts", which needs its model. */
  resource: string | undefined;
  /** Rule "names the API": the word "API" asks for the api-worker even without a routing keyword. */
  namesApi: boolean;
  /** `METHOD /path` lines given by the task, e.g. `POST /api/users/register`. */
  routes: string[];
  /** Whom the routes are for, e.g. "admin" in "admin routes". */
  routeScope: string | undefined;
}

const CREATE = /\b(create|add|build|implement|develop|expose|scaffold|design|write|make|new|introduce|define)\b/i;
const ACCESS = /\b(access|rbac|protect\w*|restrict\w*|guard\w*|allow\w*|deny|denied|forbid\w*|only|authori[sz]\w*)\b/i;
const ROLE_CHANGE = /\b(add|create|new|rename|remove|delete|define|introduce|assign|grant|revoke|change)\b/i;
const ROLE_RENAME =
  /\brename\s+(?:the\s+)?(?:role\s+)?["'\u201c]?([\w-]+)["'\u201d]?\s+(?:role\s+)?to\s+["'\u201c]?([\w-]+)["'\u201d]?/i;
const COMMON_ROLES = /\b(admin|administrator|owner|editor|moderator|manager|viewer|guest|superuser|staff)s?\b/gi;
const QUOTED = /["'\u201c]([\w-]{2,40})["'\u201d]/g;
const ROUTE_LINE = /\b(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)\s+(\/[^\s,;"'`)]*)/g;
const SCOPED_ROUTES = /\b([a-z][\w-]*)\s+(?:routes|endpoints|pages|area|panel)\b/i;

/** "API for blog posts", "endpoints for invoices", "CRUD for products"; failing those, "CRUD products". */
const RESOURCE = /\b(?:apis?|endpoints?|routes?|controllers?|crud|resource)\s+(?:for|to\s+manage|managing|of)\s+(.+)/i;
const CRUD_RESOURCE = /\bcrud\s+(.+)/i;
const RESOURCE_STOP = /^(with|and|that|which|using|in|on|to|by|including|where|so|plus|via|from)$/i;
const ARTICLES = /^(a|an|the|our|my|their|all|some|each)$/i;
/** Things an API can serve that are not stored resources: no model to create. */
const NOT_STORED = new Set(['health', 'status', 'metrics', 'ping', 'version', 'docs', 'documentation', 'uptime', 'readiness', 'liveness']);
const NOT_A_SCOPE = new Set(['the', 'all', 'our', 'api', 'new', 'existing', 'these', 'those', 'some', 'rest', 'protected']);

function resourceOf(description: string): string | undefined {
  const tail = RESOURCE.exec(description)?.[1] ?? CRUD_RESOURCE.exec(description)?.[1];
  if (tail === undefined) return undefined;
  const words: string[] = [];
  for (const word of tail.split(/[\s]+/)) {
    const clean = word.replace(/[^\p{L}\p{N}-]/gu, '');
    if (clean === '' || RESOURCE_STOP.test(clean)) break;
    if (words.length === 0 && ARTICLES.test(clean)) continue;
    words.push(clean.toLowerCase());
    if (words.length === 3 || /[,.;:]$/.test(word)) break;
  }
  if (words.length === 0 || words.some((word) => NOT_STORED.has(word))) return undefined;
  // "routes for user login" is a feature of the auth lane, not a stored resource: the auth rules cover it.
  if (matchKeywords([words.join(' ')])['auth-worker'].length > 0) return undefined;
  return words.join(' ');
}

function unique(values: Iterable<string>): string[] {
  return [...new Set(values)];
}

/** Applies the implication rules to a task. Pure: the same task gives the same facts. */
export function analyseTask(task: TaskMessage): TaskFacts {
  const texts = taskTexts(task);
  const all = texts.join('\n');
  const description = task.payload.description;
  const matches = matchTaskKeywords(task);
  const auth = new Set(matches['auth-worker'].map((hit) => hit.keyword));

  const rename = ROLE_RENAME.exec(all);
  const roleRename = rename?.[1] !== undefined && rename[2] !== undefined ? { from: rename[1], to: rename[2] } : undefined;
  const mentionsRoles = auth.has('role') || auth.has('permission');
  const quoted = mentionsRoles ? [...all.matchAll(QUOTED)].map((m) => m[1] ?? '') : [];
  const common = [...all.matchAll(COMMON_ROLES)].map((m) => (m[1] ?? '').toLowerCase());
  const scope = SCOPED_ROUTES.exec(description)?.[1]?.toLowerCase();

  return {
    matches,
    account: auth.has('register'),
    roleData: mentionsRoles && (ACCESS.test(all) || ROLE_CHANGE.test(all)),
    roleRename,
    roleNames: mentionsRoles ? unique([...quoted, ...common].filter((name) => name !== '')) : [],
    resource: CREATE.test(description) ? resourceOf(description) : undefined,
    namesApi: /\bapis?\b/i.test(all),
    routes: unique(texts.flatMap((text) => [...text.matchAll(ROUTE_LINE)].map((m) => `${m[1]} ${m[2]}`))),
    routeScope: scope !== undefined && !NOT_A_SCOPE.has(scope) ? scope : undefined,
  };
}
