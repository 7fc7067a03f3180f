import type { Overview, WorkerView } from '../client/overview.ts';
import type { TaskWatch } from '../client/taskWatch.ts';
import type { CheckResult } from '../protocol/checks.ts';

const seconds = (ms: number | undefined): string => (ms === undefined ? '' : `${(ms / 1000).toFixed(1)}s`);
const fit = (text: string, width: number): string => (text.length <= width ? text.padEnd(width) : `${text.slice(0, Math.max(0, width - 1))}…`);

const MARK: Record<WorkerView['state'], string> = {
  waiting: '·',
  running: '▶',
  waiting_for_model: '⏸',
  retrying: '↻',
  succeeded: '✓',
  failed: '✗',
};

const usd = (value: number): string => `$${value < 10 ? value.toFixed(4) : value.toFixed(2)}`;

function workerCell(w: WorkerView): string {
  const timed = w.state === 'running' || w.state === 'retrying' || w.state === 'waiting_for_model';
  const extra = timed ? ` ${seconds(w.sinceMs)}${w.attempt > 1 ? ` #${w.attempt}` : ''}` : '';
  const state = w.state === 'waiting_for_model' ? `waiting for ${w.waitingFor === 'breaker_open' ? 'the API' : (w.waitingFor ?? 'model').replaceAll('_', ' ')}` : w.state;
  return `${MARK[w.state]} ${w.worker.replace('-worker', '')} ${state}${extra}`;
}

/**
 * One check (`--verify`) on one line: passed or failed, its exit code or why
 * it could not run, its time, and how many runs it took.
 *
 * @example
 * checkLine({ command: 'node --test', passed: true, exit_code: 0, duration_ms: 1200, rounds: 2, output_tail: '' });
 * // '✓ node --test · passed · exit 0 · 1.2s · 2 rounds'
 */
export function checkLine(c: CheckResult): string {
  // A task's own checks (payload.context.verify) are untrusted text: no line breaks, no terminal escapes.
  const plain = (text: string) => text.replace(/[\x00-\x1f\x7f-\x9f]+/g, ' ');
  const how = c.error !== undefined ? `could not run: ${plain(c.error)}` : `exit ${c.exit_code ?? 'none'}`;
  const command = plain(c.command);
  return `${c.passed ? '✓' : '✗'} ${command} · ${c.passed ? 'passed' : 'failed'} · ${how} · ${seconds(c.duration_ms)} · ${c.rounds} round${c.rounds === 1 ? '' : 's'}`;
}

/**
 * The `watch` screen as lines of at most `width` characters: instances,
 * tasks in flight with the state of each and of each worker, recent failures.
 * Pure, so a test renders it into a fixed-size buffer.
 */
export function renderOverview(o: Overview, width = 100, height = 40): string[] {
  const lines: string[] = [];
  const alive = o.instances.filter((i) => i.alive).length;
  lines.push(`backend-orchestrator watch · domain ${o.domain} · ${new Date(o.at).toISOString()}`);
  lines.push(`queue: ${o.pending} pending, ${o.tasks.length} in flight · instances: ${alive} alive of ${o.instances.length}`);
  for (const i of o.instances) {
    lines.push(
      `  ${i.alive ? '●' : '○'} ${i.agentId} ${i.status}${i.model ? ` · ${i.model}` : ''}${i.concurrency ? ` · concurrency ${i.concurrency}` : ''} · ${usd(i.spendUsd)} spent`,
    );
  }
  const api = o.modelApi;
  const down = api.unavailableSince !== undefined ? ` for ${seconds(Math.max(0, o.at - api.unavailableSince))}` : '';
  lines.push(`model API: breaker ${api.breaker.replace('_', '-')}${down} · ${api.callsInFlight} calls in flight`);
  lines.push('');
  lines.push(o.tasks.length ? 'TASKS IN FLIGHT' : 'no task in flight');
  for (const t of o.tasks) {
    lines.push(`  ${t.taskId.slice(0, 8)} ${fit(t.state, 11)} ${seconds(t.elapsedMs).padStart(7)} ${usd(t.spendUsd).padStart(9)}  ${t.owner ?? '(no holder)'}  ${t.description}`);
    if (t.workers.length) lines.push(`           ${t.workers.map(workerCell).join('   ')}`);
    for (const w of t.workers.filter((x) => x.error)) lines.push(`           ${w.worker}: ${w.error}`);
    for (const c of t.checks) lines.push(`           ${checkLine(c)}`);
  }
  if (o.failures.length) {
    lines.push('');
    lines.push('RECENT FAILURES');
    for (const f of o.failures) lines.push(`  ${f.at.slice(11, 19)} ${(f.taskId ?? '(no id)').slice(0, 8)} ${f.outcome}: ${f.error}`);
  }
  return lines.slice(0, height).map((l) => fit(l, width).trimEnd());
}

/**
 * The `watch <task-id>` screen: the task, where it is (queued, its state and
 * workers while it runs, its result once finished) and the last lines of its
 * progress log. Pure, as renderOverview.
 */
export function renderTask(t: TaskWatch, domain: string, width = 100, height = 40): string[] {
  const lines: string[] = [];
  lines.push(`backend-orchestrator watch ${t.taskId} · domain ${domain} · ${new Date(t.at).toISOString()}`);
  if (t.description) lines.push(`  ${t.description}`);
  if (t.where === 'finished' && t.result) {
    const outcome = t.result.outcome && t.result.outcome !== t.result.status ? ` (${t.result.outcome})` : '';
    lines.push(`${t.result.status}${outcome}${t.result.completedAt ? ` at ${t.result.completedAt}` : ''}${t.result.error ? `: ${t.result.error}` : ''}`);
  } else if (t.where === 'queued') {
    lines.push('queued: no listener has claimed it yet');
  } else if (t.running) {
    const r = t.running;
    lines.push(`${r.state} ${seconds(r.elapsedMs)} · ${usd(r.spendUsd)} · ${r.owner ?? '(no holder)'}`);
    if (r.workers.length) lines.push(`  ${r.workers.map(workerCell).join('   ')}`);
    for (const w of r.workers.filter((x) => x.error)) lines.push(`  ${w.worker}: ${w.error}`);
  } else {
    lines.push('running');
  }
  if (t.checks.length) {
    lines.push('');
    lines.push('CHECKS');
    for (const c of t.checks) lines.push(`  ${checkLine(c)}`);
  }
  lines.push('');
  lines.push(t.log.length ? 'PROGRESS' : 'no progress yet');
  const room = Math.max(1, height - lines.length);
  for (const line of t.log.slice(-room)) lines.push(`  ${line}`);
  return lines.slice(0, height).map((l) => fit(l, width).trimEnd());
}
