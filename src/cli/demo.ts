import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTaskMessage, sendTask } from '../client/send.ts';
import { waitForResult } from '../client/wait.ts';
import { loadConfig } from '../config.ts';
import { createLogger } from '../logger.ts';
import { ownSecrets } from '../secrets.ts';
import { keysFor } from '../protocol/keys.ts';
import { connectClientRedis, connectRedis } from '../redis/connection.ts';
import { startLocalRedis } from '../redis/localServer.ts';
import { DEFAULT_DOMAIN } from '../optionDefaults.ts';
import { startOrchestrator } from '../runtime/orchestrator.ts';
import { ResourceStack } from '../runtime/resources.ts';
import { CLIENT_FLAGS } from './client.ts';
import { createSampleProject, DEMO_CHECKS, printHistory, taskSummary } from './demoProject.ts';

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

/** Exit code of a demo stopped by Ctrl-C (128 + SIGINT), as a shell reports it. */
const INTERRUPTED = 130;

/**
 * The README's first command: a private Redis, a listener, the seed's
 * tasks, their progress live, the results, and where the files are.
 *
 * It never touches a queue a real listener uses: without `--redis` its own
 * redis-server (REDIS_URL alone does not count: the README has people export
 * it for the real thing), and with `--redis` a domain of its own, so its
 * tasks go on a queue no listener of the network serves. Ctrl-C (or
 * SIGTERM) stops it at any point and removes what it made: the listener, the
 * private redis-server, the temporary folder (unless --keep).
 */
export async function runDemo(o: { redis?: string; domain?: string; workspace?: string; keep?: boolean }): Promise<void> {
  const out = (s: string) => process.stdout.write(`${s}\n`);
  const interrupted = new AbortController();
  // What the demo opened, closed last first on every way out.
  const opened = new ResourceStack(({ resource, error }) => process.stderr.write(`could not close the ${resource}: ${String(error)}\n`));
  let scratch: string | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (!interrupted.signal.aborted) {
      out(`\n${signal}: stopping the demo${o.keep ? '' : ' and removing its temporary folder'}`);
      interrupted.abort(signal);
      return;
    }
    // A second one: no more waiting; the temporary folder still goes.
    if (scratch !== undefined && !o.keep) rmSync(scratch, { recursive: true, force: true });
    process.exit(INTERRUPTED);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let failures = 0;
  try {
    failures = await demo(o, out, interrupted.signal, opened, (dir) => (scratch = dir));
  } finally {
    await opened.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  // An abandoned listener's commands and sockets may still hold the event loop: the demo is over.
  if (interrupted.signal.aborted) process.exit(INTERRUPTED);
  process.exitCode = failures === 0 ? 0 : 1;
}

async function demo(
  o: { redis?: string; domain?: string; workspace?: string; keep?: boolean },
  out: (s: string) => void,
  signal: AbortSignal,
  opened: ResourceStack,
  madeScratch: (dir: string) => void,
): Promise<number> {
  let redisUrl: string;
  let domain = o.domain ?? DEFAULT_DOMAIN;
  if (o.redis === undefined) {
    const local = await startLocalRedis();
    opened.add({ name: 'private redis-server', close: () => local.stop() });
    redisUrl = local.url;
    out(`started a private redis-server at ${redisUrl}`);
  } else {
    // A given Redis that does not answer ends the demo here, not in a listener waiting for it.
    redisUrl = loadConfig({ redisUrl: o.redis }, {}, CLIENT_FLAGS).redisUrl;
    (await connectClientRedis(redisUrl, 'backend-orchestrator-demo')).disconnect();
    // A Redis others may use: a domain of the demo's own, whose queue no listener of the network serves.
    domain = `demo-${randomBytes(4).toString('hex')}`;
    out(`on ${redisUrl}, domain ${domain}: the demo's own queue (${keysFor(domain).pending}), which no real listener takes from`);
  }
  if (signal.aborted) return 0;
  // A temporary folder, not the current directory: a newcomer runs this from
  // their home folder or inside another repository. The tasks work on one
  // shared project under git in it, as the network's agents share /workspace.
  const scratch = await mkdtemp(join(tmpdir(), 'backend-orchestrator-demo-'));
  madeScratch(scratch);
  opened.add({
    name: 'temporary folder',
    close: async () => {
      if (o.keep) out(`kept ${scratch}`);
      else await rm(scratch, { recursive: true, force: true });
    },
  });
  const project = join(scratch, 'project');
  await createSampleProject(project);
  const workspace = o.workspace ?? join(scratch, 'worktrees');
  out(`workspace: ${scratch}${o.keep ? '' : ' (removed at the end; --keep keeps it)'}`);
  out(`  project: ${project} (a sample Express app with a users table, under git)`);
  // The model is chosen here, in the open: Claude with a key, else the stand-in (start refuses to choose it for you).
  const base = { redisUrl, domain, workspace, project, concurrency: 3, agentId: `${domain}-demo-${process.pid}`, logLevel: 'warn', shutdownGraceMs: 2000 } as const;
  // With checks (`--verify`): the sample's own `node --test` runs in the box before each merge, and the
  // stand-in writes a bug on the first try that the check catches and a fix round mends (ORCH_SCRIPTED_BUG=0: no bug).
  const config = loadConfig({ ...base, verify: DEMO_CHECKS, model: loadConfig(base).anthropic.apiKey ? 'anthropic' : 'scripted' });
  out(
    config.model === 'anthropic'
      ? 'model: Claude (ANTHROPIC_API_KEY is set)'
      : 'model: scripted offline stand-in (set ANTHROPIC_API_KEY to use Claude); latency per worker from ORCH_SCRIPTED_LATENCY_MS',
  );
  const planted = config.model === 'scripted' && process.env.ORCH_SCRIPTED_BUG !== '0';
  out(`checks: ${DEMO_CHECKS.join(', ')} in each task's box before its merge${planted ? " (the stand-in's first registration has a bug for it to catch; ORCH_SCRIPTED_BUG=0 leaves it out)" : ''}`);
  if (signal.aborted) return 0;
  const orchestrator = await startOrchestrator(
    {
      ...config,
      scripted: { ...config.scripted, defaultLatencyMs: config.scripted.defaultLatencyMs || 400, bug: process.env.ORCH_SCRIPTED_BUG !== '0' },
    },
    { logger: createLogger(config.logLevel, { secrets: ownSecrets(config) }) },
  );
  // Interrupted, the tasks in flight are not waited for: what the demo made is removed anyway.
  opened.add({
    name: 'listener',
    close: () => {
      if (signal.aborted) orchestrator.abandon('the demo was interrupted');
      return orchestrator.stop();
    },
  });
  const keys = keysFor(config.domain);
  const redis = connectRedis(config.redisUrl, 'backend-orchestrator-demo');
  opened.add({ name: 'Redis connection', close: () => redis.disconnect() });
  const messages = DEMO_TASKS.map((t) => buildTaskMessage({ ...t, source: 'demo' }, config.domain));
  // One after another: each task builds on what the ones before it merged.
  const results = [];
  for (const m of messages) {
    if (signal.aborted) return 0;
    await sendTask(redis, keys, m);
    out(`sent ${m.task_id.slice(0, 8)}: ${m.payload.description}`);
    results.push(
      await waitForResult(redis, keys, m.task_id, {
        timeoutMs: 15 * 60_000,
        signal,
        onLog: (line) => out(`  ${m.task_id.slice(0, 8)} ${line}`),
      }),
    );
  }
  if (signal.aborted) return 0;
  out('');
  const unclean: string[] = [];
  results.forEach((record, i) => {
    const m = messages[i]!;
    const { lines, failure } = taskSummary(m.payload.description, record);
    for (const line of lines) out(line);
    if (failure !== undefined) unclean.push(`${m.task_id.slice(0, 8)} ${failure}`);
  });
  out('');
  await printHistory(project, out);
  // The exit code says what the outcomes say: a task whose checks still fail is not a clean demo, whatever `status` reads.
  if (unclean.length > 0) {
    out('');
    out(`not a clean run: ${unclean.join('; ')}`);
  }
  return unclean.length;
}
