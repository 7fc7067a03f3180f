/**
 * Defaults of options that modules outside the schema also fall back on (a
 * caller that builds their options without `loadConfig`). The schema in
 * src/config.ts takes its defaults from here, so each number is written once.
 * Nothing is imported here: any module can use it without an import cycle.
 */

/** The domain whose queue an instance serves. */
export const DEFAULT_DOMAIN = 'backend';
/** Seconds each worker's prompt is kept in Redis for the console (7 days). */
export const DEFAULT_PROMPT_RETENTION_SECONDS = 604_800;
/** Port of the local Stately Inspector relay. */
export const DEFAULT_INSPECT_PORT = 8787;
/** Port of the web console. */
export const DEFAULT_CONSOLE_PORT = 8788;
/** Registry heartbeat period. */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 10_000;
/** How long one Glob or Grep may search. */
export const DEFAULT_SEARCH_TIMEOUT_MS = 10_000;
/** How long the breaker stays open when the API sent no retry-after. */
export const DEFAULT_BREAKER_COOLDOWN_MS = 10_000;
/** Dead letters kept. */
export const DEFAULT_DEAD_LETTER_LIMIT = 10_000;
/** How long a final result waits for the producer's `results:{id}` record. */
export const DEFAULT_RESULT_GRACE_MS = 2000;
/**
 * Names (basename globs, at any depth) left out of box mode's snapshot of
 * the project folder and of its layers: files that commonly hold secrets.
 */
export const DEFAULT_SNAPSHOT_EXCLUDE: readonly string[] = ['.env', '.env.*', '*.pem', '*.key', 'id_rsa*', '.npmrc', '.netrc', '.git-credentials'];
