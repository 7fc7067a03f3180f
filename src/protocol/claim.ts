import type { CheckResult } from './checks.ts';
import type { Plan } from './plan.ts';
import type { Outcome, TaskOutput, WorkerName, WorkerResult } from './output.ts';
import type { ParsedTask } from './task.ts';
import type { TaskRef } from './taskRef.ts';

/** What a task resumed after a crash or handoff starts from (its checkpoint). */
export interface Resume {
  plan: Plan | undefined;
  /** Workers that finished before the crash: they are not run again. */
  results: Partial<Record<WorkerName, WorkerResult>>;
  /** Times the task was taken over from a holder that died. */
  takeovers: number;
  /** Set when `cancel` reached the task while nobody held it. */
  cancel: string | undefined;
  /** Dollars its holders had spent on it (as last recorded). */
  spentUsd?: number;
  /** The checks' latest runs as last recorded (CHECKS_FIELD), each with its count of runs. */
  checks?: CheckResult[];
  /** The fix round under way when the holder stopped, and the workers it sent the failure to. */
  fix?: FixRound;
  /** Workers' prompts as last recorded (StoredPrompt JSON per worker), kept for the console at publication. */
  prompts?: Record<string, string>;
}

/** A fix round as the checkpoint records it (field `fix`) when it starts. */
export interface FixRound {
  round: number;
  workers: WorkerName[];
}

/** One message taken from the queue: the exact claimed bytes and what they parsed to. */
export interface Claim {
  /**
   * The exact bytes claimed. A queue carries bytes, not text: a message that
   * is not UTF-8 decodes lossily, and an LREM of the decoded text would
   * match nothing, leaving it in `tasks:active` forever.
   */
  raw: Buffer;
  parsed: ParsedTask;
  /** Who it is: built from `raw` and `parsed` at the claim (taskRefOf), carried whole from here. */
  ref: TaskRef;
  /** When the task was first claimed (epoch ms): its deadline runs from here, across takeovers. */
  claimedAt: number;
  resume?: Resume;
  /**
   * The fencing token this holder got with the claim or takeover (the
   * checkpoint's `fence`). Every side effect checks it against the
   * checkpoint atomically; undefined (claims made by hand in tests) skips
   * the check.
   */
  fence?: string;
  /**
   * What the claim learnt of the producer's `results:{id}` record, so the
   * publication need not look again: `seen` (it exists, and no claim came
   * before: no stale `error` field), `missing` (not yet written), `unknown`
   * (a takeover, or claimed before).
   */
  resultRecord?: ResultRecord;
}

/** What a claim learnt of the producer's `results:{id}` record (see Claim.resultRecord). */
export type ResultRecord = 'seen' | 'missing' | 'unknown';

/** What the task actor hands over to be published. */
export interface FinalResult {
  /** The exact bytes that were claimed: the LREM argument. */
  raw: Buffer;
  /** Names the checkpoint; `ref.id` (absent when none could be recovered from a rejected message) names `results:{id}`. */
  ref: TaskRef;
  outcome: Outcome;
  output: TaskOutput;
  /** Human-readable reason; published with `failed` only. */
  error: string | undefined;
  /** Set when the message itself is dead-lettered (unparseable, or crashed its holders too often). */
  deadLetter: string | undefined;
  /** What the claim learnt of the producer's record; undefined: the publication looks. */
  resultRecord?: ResultRecord;
  /** The holder's fencing token (Claim.fence): the merge and the publication go through only while it is current. */
  fence?: string;
}
