import type { WorkerName } from '../protocol/output.ts';
import type { TaskMessage } from '../protocol/task.ts';
import { WORKER_ORDER } from './domains.ts';
import { analyseTask, type TaskFacts } from './implications.ts';
import { buildInstructions } from './instructions.ts';
import { describeHits, describeKeywordTable } from './keywords.ts';
import type { Plan, PlanStep } from '../protocol/plan.ts';

/** Why each worker is in the plan: its matched keywords, then each implication rule that added it. */
function reasonsOf(facts: TaskFacts): Map<WorkerName, string[]> {
  const reasons = new Map<WorkerName, string[]>();
  const add = (worker: WorkerName, reason: string): void => {
    reasons.set(worker, [...(reasons.get(worker) ?? []), reason]);
  };
  for (const worker of WORKER_ORDER) {
    const hits = facts.matches[worker];
    if (hits.length > 0) add(worker, `matched keywords: ${describeHits(hits)}`);
  }
  if (facts.account) add('db-worker', 'rule "new account": registration creates accounts, which need a user model and its migration');
  if (facts.roleData) {
    add('db-worker', 'rule "roles are data": role-based access and role changes need the role and permission tables');
  }
  if (facts.resource !== undefined) {
    add('db-worker', `rule "new resource": an API for ${facts.resource} needs their model and schema`);
    add('api-worker', `rule "new resource": an API for ${facts.resource} needs its routes`);
  }
  // Only when nothing else chose api-worker: otherwise it adds nothing but noise to the reason.
  if (facts.namesApi && !reasons.has('api-worker')) add('api-worker', 'rule "names the API": the task asks for work on the API');
  return reasons;
}

/**
 * Plans a task from the keyword table and the implication rules, without a
 * model: the fallback of the LLM planner and the planner of offline runs.
 *
 * Order: db-worker, when present, comes first and every other step depends on
 * it (they use its models); api-worker and auth-worker never wait for each
 * other, so they run in parallel and are told the same helper names instead.
 *
 * Criticality: a step others depend on is critical (without it they cannot
 * run, so the task cannot be more than a shell), and so is the only step (its
 * failure leaves nothing). Any other step is not: its failure makes the task
 * `partial` and the rest of the work is still delivered.
 *
 * A task that matches nothing yields zero steps and a note listing the
 * keywords, which the caller turns into a `failed` result.
 *
 * @example
 * planByKeywords(task('Create user registration endpoint')).steps.map((s) => [s.worker, s.dependsOn])
 * // [['db-worker', []], ['auth-worker', ['db-worker']], ['api-worker', ['db-worker']]]
 */
export function planByKeywords(task: TaskMessage): Plan {
  const facts = analyseTask(task);
  const reasons = reasonsOf(facts);
  const workers = WORKER_ORDER.filter((worker) => reasons.has(worker));
  if (workers.length === 0) {
    return {
      source: 'keywords',
      steps: [],
      notes: [
        `no worker keyword in the description or requirements, so no worker can be chosen; the keywords are ${describeKeywordTable()}. Rephrase the task with the backend part it needs (e.g. "endpoint", "model", "login").`,
      ],
    };
  }
  const planned = new Set(workers);
  const hasDb = planned.has('db-worker');
  const steps: PlanStep[] = workers.map((worker) => ({
    worker,
    instructions: buildInstructions(worker, { task, facts, workers: planned }),
    dependsOn: hasDb && worker !== 'db-worker' ? ['db-worker'] : [],
    critical: false,
    reason: (reasons.get(worker) ?? []).join('; '),
  }));
  for (const step of steps) {
    step.critical = steps.length === 1 || steps.some((other) => other.dependsOn.includes(step.worker));
  }
  return { source: 'keywords', steps, notes: [] };
}
