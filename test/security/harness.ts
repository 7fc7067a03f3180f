import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { onTestFinished } from 'vitest';
import { buildTaskMessage, sendTask } from '../../src/client/send.ts';
import type { ConfigInput } from '../../src/config.ts';
import type { TaskOutput } from '../../src/protocol/output.ts';
import type { OrchestratorOptions } from '../../src/runtime/orchestrator.ts';
import { startFakeMessagesApi, type FakeBlock, type FakeResponse, type RecordedRequest } from '../support/fakeMessagesApi.ts';
import { startTestOrchestrator } from '../support/orchestrator.ts';
import { client, eventually } from '../support/redis.ts';

/** The listener's API key in these tests: a leak of it anywhere is a failure. */
export const SECRET_KEY = 'sk-ant-api03-SECRETSECRETSECRET-do-not-leak';

/** The tool calls a worker makes, one array per model turn; then it reports `summary`. */
export interface Script {
  turns: FakeBlock[][];
  summary?: string;
  /** More fields of the final JSON report (a model's own `files_deleted`). */
  report?: Record<string, unknown>;
}

const workerOf = (r: RecordedRequest): string => /You are ([a-z]+-worker)/.exec(JSON.stringify(r.body.system ?? ''))?.[1] ?? 'unknown';

/** What the model got back for each tool call, in order. */
export function toolResults(requests: readonly RecordedRequest[]): { content: string; isError: boolean }[] {
  return requests.flatMap((r) => {
    const last = r.body.messages.at(-1);
    if (last === undefined || typeof last.content === 'string') return [];
    return last.content.flatMap((b) =>
      b.type === 'tool_result' ? [{ content: typeof b.content === 'string' ? b.content : JSON.stringify(b.content), isError: b.is_error === true }] : [],
    );
  });
}

function respond(scripts: Record<string, Script>) {
  return (request: RecordedRequest): FakeResponse => {
    const script = scripts[workerOf(request)] ?? { turns: [] };
    const turn = (request.body.messages.length - 1) / 2;
    const calls = script.turns[turn];
    if (calls !== undefined) return { content: calls };
    const summary = script.summary ?? 'tried';
    return { content: [{ type: 'text', text: `Done.\n\`\`\`json\n${JSON.stringify({ summary, issues: [], ...script.report })}\n\`\`\`` }] };
  };
}

/** Asks /healthz every 100 ms, each answer due within a second; counts the answers and the misses. */
function probeHealth(url: string) {
  let answered = 0;
  let missed = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      try {
        const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) });
        await res.text();
        answered++;
      } catch {
        missed++;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return { answered, missed };
    },
  };
}

export interface EscapeRun {
  output: TaskOutput;
  status: string;
  tools: { content: string; isError: boolean }[];
  health: { answered: number; missed: number };
  workspace: string;
  requests: RecordedRequest[];
  domain: string;
}

/**
 * One task through the whole listener (anthropic model over the real SDK,
 * the fake Messages API scripting each worker's tool calls, Bash in the
 * real sandbox), with /healthz probed all along.
 */
export async function runEscape(
  scripts: Record<string, Script>,
  options: {
    description?: string;
    taskId?: string;
    over?: ConfigInput;
    orchestrator?: Partial<OrchestratorOptions>;
    /** Called with the workspace root before the task is sent. */
    before?: (workspaceRoot: string) => void;
  } = {},
): Promise<EscapeRun> {
  const api = await startFakeMessagesApi();
  onTestFinished(() => api.close());
  for (let i = 0; i < 200; i++) api.enqueue(respond(scripts));
  const { orchestrator, config, keys } = await startTestOrchestrator(
    { model: undefined, planner: 'keywords', metricsPort: 0, ...options.over },
    options.orchestrator ?? {},
    { ANTHROPIC_API_KEY: SECRET_KEY, ANTHROPIC_BASE_URL: api.url },
  );
  const redis = client();
  onTestFinished(async () => {
    await orchestrator.stop();
    await redis.quit();
  });
  options.before?.(config.workspace);
  const health = probeHealth(orchestrator.http!.url);
  const message = buildTaskMessage(
    { description: options.description ?? 'Add an index to the orders table', timeoutSeconds: 60, ...(options.taskId ? { taskId: options.taskId } : {}) },
    config.domain,
  );
  await sendTask(redis, keys, message);
  const record = await eventually(
    async () => {
      const r = await redis.hgetall(keys.result(message.task_id));
      return r.status === 'completed' || r.status === 'failed' ? r : undefined;
    },
    60_000,
    'the result',
  );
  const output = JSON.parse(record.output ?? '{}') as TaskOutput;
  return {
    output,
    status: record.status ?? '',
    tools: toolResults(api.requests),
    health: await health.stop(),
    workspace: output.workspace ?? '',
    requests: api.requests,
    domain: config.domain,
  };
}

/** A folder outside every workspace, removed after the test. */
export function outsideDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'orch-outside-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export const bash = (command: string, timeout?: number): FakeBlock => ({
  type: 'tool_use',
  name: 'Bash',
  input: timeout === undefined ? { command } : { command, timeout },
});
export const tool = (name: string, input: Record<string, unknown>): FakeBlock => ({ type: 'tool_use', name, input });

/** A Bash command that sends one request through the egress proxy bridged into the box (127.0.0.1:3128) and prints the answer's start. */
export const viaProxy = (requestLine: string, host: string): string =>
  `exec 3<>/dev/tcp/127.0.0.1/3128 && printf '${requestLine}\\r\\nHost: ${host}\\r\\nConnection: close\\r\\n\\r\\n' >&3 && head -c 300 <&3`;

/** A loopback HTTP server answering `hello-from-allowed-host`, closed when the test ends: the host an --allow-domain entry lets through. */
export async function allowedHost(): Promise<number> {
  const server = createServer((_req, res) => res.end('hello-from-allowed-host'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as AddressInfo).port;
}
