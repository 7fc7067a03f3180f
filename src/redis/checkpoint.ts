import type { Plan } from '../protocol/plan.ts';
import { CHECKS_FIELD, type CheckResult } from '../protocol/checks.ts';
import type { FixRound, Resume } from '../protocol/claim.ts';
import { WORKER_NAMES, type WorkerName, type WorkerResult } from '../protocol/output.ts';

/**
 * A claimed task's checkpoint: `orch:{domain}:task:{key}` (TaskRef.key), a HASH of
 *   raw               the exact claimed bytes (what LREM needs)
 *   owner             the agent id holding it
 *   first_claimed_at  epoch ms of the first claim (the deadline runs from it)
 *   claimed_at        epoch ms of the current holder's claim
 *   takeovers         times it was taken from a holder that died
 *   fence             the current holder's fencing token (from `orch:{domain}:fence`); every
 *                     side effect of a holder checks it (progress, merge, publication)
 *   claim_token       the current holder's claim token (agent id + nonce): a rerun of its claim
 *                     or takeover script (a lost reply) finds it and answers as the first run
 *   claim_reply       what the claim script answered (the producer's record), for such a rerun
 *   dup:{token}       a second delivery, dead-lettered once (a rerun of it does nothing more)
 *   progress_seq      the holder's last progress batch written: a resent batch is not written twice
 *   handoff           set by a holder that stopped gracefully (not a crash)
 *   cancel            a cancel reason that arrived while it was held
 *   plan              the Plan (JSON)
 *   result:{worker}   a finished worker's WorkerResult (JSON)
 *   worker:{worker}   where the worker stands (WorkerProgress JSON), for `watch`
 *   prompt:{worker}   the worker's prompt as last sent, scrubbed (StoredPrompt JSON), for the console
 *   spend_usd         dollars the task has spent so far (written with its next progress step)
 *   checks            the checks' latest runs (CheckResult[] JSON), while the task verifies (CHECKS_FIELD)
 *   fix               the fix round under way ({round, workers} JSON), saved when it starts
 *   phase             `verifying` while the checks run, `fixing` while a fix round does, `checked` after, for `watch`
 * Written at claim (src/redis/queue.ts), then with each step that must be
 * saved (a worker's result), steps nothing waits for riding along
 * (src/redis/progress.ts); deleted with the publication (src/redis/results.ts), atomically.
 */
/** Where a worker stands, as `watch` shows it (field `worker:{name}`). */
export interface WorkerProgress {
  status: 'running' | 'waiting_for_model' | 'succeeded' | 'failed';
  attempt: number;
  at: number;
  error?: string;
  /** Why a model call waits (status waiting_for_model): model_slot, tokens_per_minute, breaker_open, retry_after, rate_limit. */
  reason?: string;
}

export const planField = (plan: Plan): Record<string, string> => ({ plan: JSON.stringify(plan) });
export const resultField = (result: WorkerResult): Record<string, string> => ({ [`result:${result.worker}`]: JSON.stringify(result) });
export const progressField = (worker: WorkerName, progress: WorkerProgress): Record<string, string> => ({
  [`worker:${worker}`]: JSON.stringify(progress),
});

const parseJson = <T>(text: string | undefined): T | undefined => {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined; // a damaged checkpoint entry only means that part is redone
  }
};

/** Reads a checkpoint hash (as HGETALL returns it) back into what a resumed task starts from. */
export function resumeFrom(hash: Record<string, string>): Resume {
  const results: Partial<Record<WorkerName, WorkerResult>> = {};
  for (const worker of WORKER_NAMES) {
    const result = parseJson<WorkerResult>(hash[`result:${worker}`]);
    if (result) results[worker] = result;
  }
  const prompts: Record<string, string> = {};
  for (const worker of WORKER_NAMES) {
    const prompt = hash[`prompt:${worker}`];
    if (prompt !== undefined) prompts[worker] = prompt;
  }
  const checks = parseJson<CheckResult[]>(hash[CHECKS_FIELD]);
  const fix = parseJson<FixRound>(hash.fix);
  return {
    plan: parseJson<Plan>(hash.plan),
    results,
    takeovers: Number(hash.takeovers ?? 0) || 0,
    cancel: hash.cancel,
    spentUsd: Number(hash.spend_usd ?? 0) || 0,
    prompts,
    ...(checks ? { checks } : {}),
    ...(fix ? { fix } : {}),
  };
}

/** Where a task with checks stands (field `phase`), for `watch` and the console. */
export const phaseField = (phase: 'verifying' | 'fixing' | 'checked'): Record<string, string> => ({ phase });

/** The checkpoint field of the fix round under way. */
export const FIX_FIELD = 'fix';
export const checksField = (checks: readonly CheckResult[]): Record<string, string> => ({ [CHECKS_FIELD]: JSON.stringify(checks) });
export const fixField = (fix: FixRound): Record<string, string> => ({ [FIX_FIELD]: JSON.stringify(fix) });

/** HGETALL-style flat array reply → object. */
export function pairs(reply: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < reply.length; i += 2) out[reply[i]!] = reply[i + 1]!;
  return out;
}
