import type { TaskRef } from '../protocol/taskRef.ts';

/** A worker's prompt as the console shows it: the first user message of its latest attempt. */
export interface StoredPrompt {
  attempt: number;
  /** Epoch ms it was sent. */
  at: number;
  prompt: string;
}

/**
 * The workers' prompts of the tasks this instance holds, as the console
 * shows them. Each is written into the task's checkpoint (`prompt:{worker}`,
 * with the task's next progress step) for the console while the task runs,
 * and kept here until the publication, which stores them all in
 * `orch:{domain}:prompts:{key}` (TaskRef.key) with a TTL, in the same command
 * (src/redis/results.ts): the checkpoint is deleted then, and the console
 * shows finished tasks too. A task taken over starts from the prompts its
 * checkpoint had (`seed`).
 */
export class TaskPrompts {
  private readonly byTask = new Map<string, Record<string, string>>();

  /** Keeps a worker's latest prompt (already scrubbed); returns the checkpoint field to write. */
  keep(task: TaskRef, worker: string, p: { attempt: number; prompt: string; at?: number }): Record<string, string> {
    const value: StoredPrompt = { attempt: p.attempt, at: p.at ?? Date.now(), prompt: p.prompt };
    const json = JSON.stringify(value);
    let prompts = this.byTask.get(task.key);
    if (prompts === undefined) this.byTask.set(task.key, (prompts = {}));
    prompts[worker] = json;
    return { [`prompt:${worker}`]: json };
  }

  /** A task taken over: the prompts its checkpoint had. */
  seed(task: TaskRef, prompts: Record<string, string>): void {
    if (Object.keys(prompts).length) this.byTask.set(task.key, { ...prompts, ...this.byTask.get(task.key) });
  }

  /** The task's prompts, for its publication. */
  of(task: TaskRef): Record<string, string> {
    return this.byTask.get(task.key) ?? {};
  }

  /** The task left this instance (published, or another holder publishes it). */
  forget(task: TaskRef): void {
    this.byTask.delete(task.key);
  }
}

/** Reads a prompts hash (as HGETALL returns it); a damaged entry is left out rather than failing the page. */
export function parsePrompts(hash: Record<string, string>): Record<string, StoredPrompt> {
  const out: Record<string, StoredPrompt> = {};
  for (const [worker, text] of Object.entries(hash)) {
    try {
      const v = JSON.parse(text) as Partial<StoredPrompt>;
      if (typeof v.prompt === 'string') out[worker] = { attempt: Number(v.attempt) || 0, at: Number(v.at) || 0, prompt: v.prompt };
    } catch {
      // another writer's or a damaged value: shown as missing
    }
  }
  return out;
}
