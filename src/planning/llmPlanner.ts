import { z } from 'zod';
import type { Message, MessageParams, ModelClient } from '../models/types.ts';
import { WORKER_NAMES } from '../protocol/output.ts';
import type { TaskMessage } from '../protocol/task.ts';
import { WORKER_DOMAINS } from './domains.ts';
import { describeHits, KEYWORDS, matchTaskKeywords } from './keywords.ts';
import { LlmPlanError } from './llmPlanError.ts';
import type { Plan } from '../protocol/plan.ts';
import { validatePlan } from './validatePlan.ts';
import { DATA_RULE, fence } from '../models/fence.ts';

/** What the model must submit; the tool's input_schema is derived from it, so the two cannot drift. */
export const LlmPlanSchema = z.object({
  steps: z
    .array(
      z.object({
        worker: z.enum(WORKER_NAMES).describe('The specialist that does this step.'),
        instructions: z
          .string()
          .min(1)
          .describe('Specific, actionable instructions for this worker only: files, names, routes, fields, status codes.'),
        depends_on: z
          .array(z.enum(WORKER_NAMES))
          .describe('Workers whose output this step needs before it can start; [] when it can start at once.'),
        critical: z.boolean().describe('True when the task cannot succeed without this step (others depend on it, or it is the only one).'),
        reason: z.string().min(1).describe('Why this worker is needed for this task.'),
      }),
    )
    .max(WORKER_NAMES.length)
    .describe('At most one step per worker; empty when the task needs no backend worker.'),
});

const TOOL_NAME = 'submit_plan';

/** JSON Schema 2020-12 of the plan, without the `$schema` marker the Messages API does not need. */
function inputSchema(): { type: 'object'; [key: string]: unknown } {
  const { $schema: _ignored, ...schema } = z.toJSONSchema(LlmPlanSchema) as Record<string, unknown>;
  return { ...schema, type: 'object' };
}

const SYSTEM = [
  'You plan backend tasks for three specialist workers. Each one owns a lane:',
  ...WORKER_NAMES.map((w) => `- ${w}: ${WORKER_DOMAINS[w]} (keywords: ${KEYWORDS[w].join(', ')})`),
  '',
  'Choose only the workers the task needs, at most one step each. Add the steps a task implies even without a keyword:',
  'a new resource or account needs its model and migration (db-worker); role-based access needs role and permission tables.',
  'Order: a db-worker step comes before the steps that use its models; steps that do not need each other have no dependency and run in parallel.',
  'Parallel steps cannot see each other\'s output, so give them the same names for what they share (module paths, function and middleware names).',
  'Critical: a step others depend on, or the only step. Other steps are not critical.',
  'Instructions must be specific and actionable for that worker alone: name the routes (METHOD /path), models, fields, functions and status codes.',
  `Answer by calling ${TOOL_NAME} once.`,
  '',
  DATA_RULE,
].join('\n');

function userMessage(task: TaskMessage): string {
  const matches = matchTaskKeywords(task);
  const hits = WORKER_NAMES.filter((w) => matches[w].length > 0).map((w) => `${w}: ${describeHits(matches[w])}`);
  return [
    'The task to plan, as data:',
    fence('task-data', {
      task_id: task.task_id,
      description: task.payload.description,
      requirements: task.payload.requirements,
      context: task.payload.context,
    }),
    `Keywords the router matched: ${hits.length === 0 ? 'none' : hits.join('; ')}`,
  ].join('\n');
}

/** The tool input of the answer, or why there is none. */
function submittedInput(message: Message): unknown {
  const call = message.content.find((block) => block.type === 'tool_use' && block.name === TOOL_NAME);
  if (call === undefined || call.type !== 'tool_use') {
    const cut = message.stop_reason === 'max_tokens' ? ' (the answer was cut off at max_tokens)' : '';
    throw new LlmPlanError(`the model answered without calling ${TOOL_NAME}${cut}`);
  }
  if (typeof call.input !== 'string') return call.input;
  try {
    return JSON.parse(call.input) as unknown;
  } catch (error) {
    throw new LlmPlanError(`the ${TOOL_NAME} input is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
}

/** Turns a model answer into a checked plan, or throws LlmPlanError saying what is wrong with it. */
export function planFromMessage(message: Message): Plan {
  const parsed = LlmPlanSchema.safeParse(submittedInput(message));
  if (!parsed.success) {
    throw new LlmPlanError(`the plan does not match the schema: ${z.prettifyError(parsed.error).replaceAll('\n', '; ')}`);
  }
  const steps = parsed.data.steps.map((step) => ({
    worker: step.worker,
    instructions: step.instructions,
    dependsOn: step.depends_on,
    critical: step.critical,
    reason: step.reason,
  }));
  const check = validatePlan({ steps });
  if (!check.ok) throw new LlmPlanError(`the plan is not a valid DAG: ${check.errors.join('; ')}`);
  return { source: 'llm', steps, notes: [] };
}

export interface LlmPlannerOptions {
  model: ModelClient;
  /** Model id sent to the Messages API, e.g. `claude-sonnet-4-6`. */
  modelId: string;
  /** Output budget of the plan. Default 4096: three steps of instructions fit with room to spare. */
  maxTokens?: number;
}

/** Plans a task; the signal is the calling actor's, so stopping it aborts the request. */
export type LlmPlanner = (task: TaskMessage, signal: AbortSignal) => Promise<Plan>;

/**
 * A planner that asks the model (as caller `planner`) for a plan through a
 * forced `submit_plan` tool call, validated with zod and as a DAG. It throws
 * on HTTP failure and LlmPlanError on a bad answer: `planTask` decides what
 * to do then.
 *
 * @example
 * const planner = createLlmPlanner({ model, modelId: 'claude-sonnet-4-6' });
 * const plan = await planner(task, signal);
 */
export function createLlmPlanner(options: LlmPlannerOptions): LlmPlanner {
  const tool = {
    name: TOOL_NAME,
    description: 'Submit the plan: which workers run, what each is told, and what each waits for.',
    input_schema: inputSchema(),
  };
  return async (task, signal) => {
    const params: MessageParams = {
      model: options.modelId,
      max_tokens: options.maxTokens ?? 4096,
      system: SYSTEM,
      messages: [{ role: 'user', content: userMessage(task) }],
      tools: [tool],
      tool_choice: { type: 'tool', name: TOOL_NAME },
    };
    return planFromMessage(await options.model.createMessage(params, { signal, caller: 'planner' }));
  };
}
