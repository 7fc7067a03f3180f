import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTaskMessage, sendTask } from '../../src/client/send.ts';
import { createSampleProject } from '../../src/cli/demoProject.ts';
import type { ConfigInput } from '../../src/config.ts';
import { createScriptedModel } from '../../src/models/scripted.ts';
import type { ModelClient } from '../../src/models/types.ts';
import type { TaskOutput } from '../../src/protocol/output.ts';
import { startTestOrchestrator } from './orchestrator.ts';
import { taskIdOfPrompt } from './prompts.ts';
import { client, eventually } from './redis.ts';

/** The demo's sample Express project, under git on `main`, in a fresh temp folder. */
export async function sampleProject(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'orch-project-'));
  await createSampleProject(dir);
  return dir;
}

/** git in a test (synchronous is fine here: no listener's event loop to keep free). */
export function gitIn(dir: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd: dir,
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: process.env.HOME, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' },
  }).trim();
}

export interface ModelCall {
  taskId: string;
  caller: string;
  turn: number;
  prompt: string;
}

/** The scripted model, with every call recorded in order (task id from the prompt's fenced task data). */
export function recordingModel(latencyMs = 0, fail: string[] = []): { model: ModelClient; calls: ModelCall[] } {
  const inner = createScriptedModel({ latencyMs: (caller) => (caller === 'planner' ? 0 : latencyMs), fail: new Set(fail) });
  const calls: ModelCall[] = [];
  return {
    calls,
    model: {
      kind: 'scripted',
      async createMessage(params, options) {
        const first = params.messages[0]?.content;
        const prompt = typeof first === 'string' ? first : (first ?? []).flatMap((b) => (b.type === 'text' ? [b.text] : [])).join('\n');
        const taskId = taskIdOfPrompt(prompt);
        if (taskId === undefined) throw new Error(`no task id in the prompt:\n${prompt.slice(0, 500)}`);
        calls.push({ taskId, caller: options.caller, turn: params.messages.filter((m) => m.role === 'assistant').length + 1, prompt });
        return inner.createMessage(params, options);
      },
    },
  };
}

/**
 * A listener (`over` on top of the test defaults, usually `{ project }`)
 * with the recording scripted model: `send` enqueues a task as a peer does
 * and `result` waits for its final record. What to undo goes on `cleanups`.
 */
export async function startOnProject(
  over: ConfigInput,
  cleanups: Array<() => Promise<unknown>>,
  o: { latencyMs?: number; fail?: string[] } = {},
) {
  const recording = recordingModel(o.latencyMs ?? 0, o.fail ?? []);
  const t = await startTestOrchestrator(over, { model: recording.model });
  const redis = client();
  cleanups.push(() => redis.quit(), () => t.orchestrator.stop());
  const send = async (description: string) => {
    const m = buildTaskMessage({ description }, t.config.domain);
    await sendTask(redis, t.keys, m);
    return m.task_id;
  };
  const result = async (id: string) => {
    const r = await eventually(async () => {
      const h = await redis.hgetall(`results:${id}`);
      return h.status === 'completed' || h.status === 'failed' ? h : undefined;
    }, 60_000, `a final result for ${id}`);
    return { record: r, output: JSON.parse(r.output!) as TaskOutput };
  };
  return { ...t, redis, send, result, calls: recording.calls };
}
