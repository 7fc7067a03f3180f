import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createSampleProject } from '../../src/cli/demoProject.ts';
import { keysFor } from '../../src/protocol/keys.ts';
import type { TaskOutput } from '../../src/protocol/output.ts';
import { connect, fmt, push, resultTracker, scratchRoot, startListener, taskMessage, withTimeout, type Bench, type Row } from '../support.ts';

const NOUNS = [
  'posts', 'products', 'comments', 'orders', 'invoices', 'tags', 'reviews', 'carts', 'payments', 'shipments', 'coupons', 'categories',
  'authors', 'books', 'events', 'tickets', 'venues', 'messages', 'threads', 'notes', 'tasks', 'projects', 'teams', 'files',
];

/**
 * Remote mode: N tasks (each on a resource of its own, so none conflicts)
 * across two listeners with their own workspaces on one bare repository
 * (file://): how long, how many merge pushes were refused because the other
 * instance moved the branch first (each costs one more fetch, merge-tree and
 * push), and whether every task is on the remote's main exactly once.
 */
export async function remoteMerges(b: Bench): Promise<Row[]> {
  const scratch = await mkdtemp(join(scratchRoot(), 'orch-bench-remote-'));
  b.defer(() => rm(scratch, { recursive: true, force: true }));
  const seed = join(scratch, 'seed');
  await createSampleProject(seed);
  const bare = join(scratch, 'project.git');
  execFileSync('git', ['clone', '-q', '--bare', seed, bare]);
  const url = `file://${bare}`;
  const n = b.quick ? 8 : NOUNS.length;
  const rows: Row[] = [];
  for (const concurrency of [1, 4]) {
    // A domain per run: the previous run's listeners stay up until the scenario's clean-up.
    const domain = `benchremote${process.pid}c${concurrency}`;
    const keys = keysFor(domain);
    for (const name of ['a', 'b']) {
      await startListener(b, { domain, agentId: `${domain}-${concurrency}-${name}`, project: url, isolation: 'worktree', concurrency });
    }
    const redis = connect(b.url, 'bench:remote');
    b.defer(() => redis.quit());
    const tracker = await resultTracker(b.url);
    b.defer(() => tracker.close());
    const tasks = NOUNS.slice(0, n).map((noun) => taskMessage(`Create a REST API for ${noun} (c=${concurrency})`, domain));
    const started = performance.now();
    const waits = tasks.map((t) => tracker.wait(t.id));
    await push(redis, keys, tasks);
    await withTimeout(Promise.all(waits), 600_000, `${n} remote-mode results`);
    const seconds = (performance.now() - started) / 1000;
    const outputs = await Promise.all(tasks.map(async (t) => JSON.parse((await redis.hget(keys.result(t.id), 'output')) ?? '{}') as TaskOutput));
    const merged = outputs.filter((o) => o.git?.merged).length;
    const retries = outputs.map((o) => o.git?.merge_retries ?? 0);
    const total = retries.reduce((x, y) => x + y, 0);
    const subjects = execFileSync('git', ['--git-dir', bare, 'log', '--format=%s', 'main'], { encoding: 'utf8' }).split('\n');
    const twice = tasks.filter((t) => subjects.filter((s) => s.startsWith(`Merge task ${t.id}`)).length > 1).length;
    rows.push({
      measure: `remote mode: ${n} tasks over 2 listeners (worktree, --concurrency ${concurrency} each) on one file:// remote, merged by push with no lock`,
      value: `${fmt(seconds, 1)} s; ${merged}/${n} merged, ${twice} twice; ${total} merge push(es) refused and retried (${fmt(total / n, 2)} per task, at most ${Math.max(...retries)} for one)`,
      ok: merged === n && twice === 0,
    });
  }
  return rows;
}
