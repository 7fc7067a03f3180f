import type { WorkerName } from '../protocol/output.ts';

/**
 * What each worker owns (the "owns" column of ARCHITECTURE.md). Prompts quote
 * it so that every worker knows where its lane ends and whom to leave the rest to.
 */
export const WORKER_DOMAINS: Readonly<Record<WorkerName, string>> = {
  'api-worker': 'REST/GraphQL endpoints, request handling and validation, middleware wiring, route mounting',
  'db-worker': 'database schema, migrations, queries, ORM models and their relations',
  'auth-worker': 'authentication, authorization and security: password hashing, tokens, sessions, permission checks',
};

/** Order of steps in a keyword plan: data first, then the workers that build on it. */
export const WORKER_ORDER: readonly WorkerName[] = ['db-worker', 'auth-worker', 'api-worker'];
