/** Default of `walkTimeoutMs`: how long one walk of a worker's folder may take before it stops where it is. */
export const DEFAULT_WALK_TIMEOUT_MS = 5000;
/** Default of `walkMaxEntries`: files and folders one walk looks at before it stops (node_modules and .git are not walked). */
export const DEFAULT_WALK_MAX_ENTRIES = 100_000;

/** The limits of one walk of a worker's folder (Bash's snapshots, the planner's survey). */
export interface WalkLimits {
  timeoutMs: number;
  maxEntries: number;
}

export const DEFAULT_WALK_LIMITS: WalkLimits = { timeoutMs: DEFAULT_WALK_TIMEOUT_MS, maxEntries: DEFAULT_WALK_MAX_ENTRIES };

/**
 * How long a walk's thread may take before it is terminated: a walk stops
 * itself at its time limit between two entries, so this only catches one
 * stuck in a single call (a hung file system).
 */
export const hardLimitMs = (timeoutMs: number): number => timeoutMs + Math.max(1000, timeoutMs);
