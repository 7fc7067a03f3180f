import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTaskMessage, sendTask } from '../client/send.ts';
import { waitForResult } from '../client/wait.ts';
import { loadConfig } from '../config.ts';
import { createLogger } from '../logger.ts';
import { ownSecrets } from '../secrets.ts';
import { keysFor } from '../protocol/keys.ts';
import type { TaskOutput } from '../protocol/output.ts';
import { connectClientRedis, connectRedis } from '../redis/connection.ts';
import { startLocalRedis, type LocalRedis } from '../redis/localServer.ts';
import { startOrchestrator } from '../runtime/orchestrator.ts';
import { createSampleProject, printHistory, projectLines } from './demoProject.ts';

/** The seed's worked examples (ARCHITECTURE.md). */
export const DEMO_TASKS = [
  {
    description: 'Create user registration endpoint',
    requirements: ['POST /api/users/register', 'Validate email format', 'Hash password with bcrypt', 'Return JWT token on success'],
    context: { project_type: 'node-express', existing_auth: false },
  },
  { description: 'Add role-based access to admin routes', requirements: [], context: { project_type: 'node-express' } },
  { description: 'Create a REST API for blog posts with authentication', requirements: [], context: { project_type: 'node-express' } },
];

/**
 * The README's first command: a private Redis (unless one is given), a
 * listener, the seed's tasks, their progress live, the results, and where
 * the files are.
 */
export async function runDemo(o: { redis?: string; workspace?: string; keep?: boolean }): Promise<void> {
  const out = (s: string) => process.stdout.write(`${s}\n`);
  let local: LocalRedis | undefined;
  let redisUrl = o.redis ?? process.env.REDIS_URL;
  if (!redisUrl) {
    local = await startLocalRedis();
    redisUrl = local.url;
    out(`started a private redis-server at ${redisUrl}`);
  } else {
    // A given Redis that does not answer ends the demo here, not in a listener waiting for it.
    (await connectClientRedis(redisUrl, 'backend-orchestrator-demo')).disconnect();
  }
  // A temporary folder, not the current directory: a newcomer runs this from
  // their home folder or inside another repository. The tasks work on one
  // shared project under git in it, as the network's agents share /workspace.
  const scratch = await mkdtemp(join(tmpdir(), 'backend-orchestrator-demo-'));
  const project = join(scratch, 'project');
  await createSampleProject(project);
  const workspace = o.workspace ?? join(scratch, 'worktrees');
  out(`workspace: ${scratch}${o.keep ? '' : ' (removed at the end; --keep keeps it)'}`);
  out(`  project: ${project} (a sample Express app with a users table, under git)`);
  const config = loadConfig({ redisUrl, workspace, project, concurrency: 3, agentId: `backend-demo-${process.pid}`, logLevel: 'warn' });
  out(
    config.model === 'anthropic'
      ? 'model: Claude (ANTHROPIC_API_KEY is set)'
      : 'model: scripted offline stand-in (set ANTHROPIC_API_KEY to use Claude); latency per worker from ORCH_SCRIPTED_LATENCY_MS',
  );
  const orchestrator = await startOrchestrator(
    { ...config, scripted: { ...config.scripted, defaultLatencyMs: config.scripted.defaultLatencyMs || 400 } },
    { logger: createLogger(config.logLevel, { secrets: ownSecrets(config) }) },
  );
  const keys = keysFor(config.domain);
  const redis = connectRedis(config.redisUrl, 'backend-orchestrator-demo');
  let failures = 0;
  try {
    const messages = DEMO_TASKS.map((t) => buildTaskMessage({ ...t, source: 'demo' }, config.domain));
    // One after another: each task builds on what the ones before it merged.
    const results = [];
    for (const m of messages) {
      await sendTask(redis, keys, m);
      out(`sent ${m.task_id.slice(0, 8)}: ${m.payload.description}`);
      results.push(
        await waitForResult(redis, keys, m.task_id, {
          timeoutMs: 15 * 60_000,
          onLog: (line) => out(`  ${m.task_id.slice(0, 8)} ${line}`),
        }),
      );
    }
    out('');
    results.forEach((record, i) => {
      const m = messages[i]!;
      const output = record?.output ? (JSON.parse(record.output) as TaskOutput) : undefined;
      if (!output || record?.status !== 'completed') failures++;
      out(`${m.payload.description}`);
      out(`  status:  ${record?.status ?? 'no result'}${output ? ` (${output.outcome})` : ''}${record?.error ? `: ${record.error}` : ''}`);
      if (output) {
        out(`  workers: ${output.workers_used.join(', ')}`);
        out(`  files:   ${output.files_created.join(', ') || 'none'}`);
        out(`  in:      ${output.workspace ?? '?'}`);
        for (const line of projectLines(output)) out(`  ${line}`);
      }
    });
    out('');
    await printHistory(project, out);
  } finally {
    redis.disconnect();
    await orchestrator.stop();
    await local?.stop();
    if (o.keep) out(`kept ${scratch}`);
    else await rm(scratch, { recursive: true, force: true });
  }
  process.exitCode = failures === 0 ? 0 : 1;
}
