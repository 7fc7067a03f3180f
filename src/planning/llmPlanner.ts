import { z } from 'zod';
import type Anthropic from '@anthropic-ai/sdk';
import type { Message, MessageParams, ModelClient } from '../models/types.ts';
import { WORKER_NAMES } from '../protocol/output.ts';
import type { TaskMessage } from '../protocol/task.ts';
import { WORKER_DOMAINS } from './domains.ts';
import { describeHits, KEYWORDS, matchTaskKeywords } from './keywords.ts';
import { LlmPlanError } from './llmPlanError.ts';
import type { Plan } from '../protocol/plan.ts';
import { validatePlan } from './validatePlan.ts';
import { DATA_RULE, fence } from '../models/fence.ts';
import { modelInfo, type Effort } from '../models/catalog.ts';
import { asParam } from '../models/history.ts';
import { transformJSONSchema } from '@anthropic-ai/sdk/lib/transform-json-schema';

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

const RULES = [
  'You plan backend tasks for three specialist workers. Each one owns a lane:',
  ...WORKER_NAMES.map((w) => `- ${w}: ${WORKER_DOMAINS[w]} (keywords: ${KEYWORDS[w].join(', ')})`),
  '',
  'Choose only the workers the task needs, at most one step each. Add the steps a task implies even without a keyword:',
  'a new resource or account needs its model and migration (db-worker); role-based access needs role and permission tables.',
  'Order: a db-worker step comes before the steps that use its models; steps that do not need each other have no dependency and run in parallel.',
  'Parallel steps cannot see each other\'s output, so give them the same names for what they share (module paths, function and middleware names).',
  'Critical: a step others depend on, or the only step. Other steps are not critical.',
  'Instructions must be specific and actionable for that worker alone: name the routes (METHOD /path), models, fields, functions and status codes.',
];

/** How the plan is asked for: a JSON answer under a schema (structured outputs) where the model has them, else a tool it may call. */
type Mode = 'json' | 'tool';

const systemOf = (mode: Mode): string =>
  [...RULES, mode === 'json' ? 'Answer with the plan alone, as JSON.' : `Answer by calling ${TOOL_NAME} once.`, '', DATA_RULE].join('\n');

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

/** Why an answer holds no plan to read, when its stop reason says so. */
function stopProblem(message: Message): string | undefined {
  switch (message.stop_reason) {
    case 'refusal':
      return 'the model declined to plan this task';
    case 'max_tokens':
      return 'the answer was cut off at max_tokens';
    case 'model_context_window_exceeded':
      return "the task did not fit the model's context window";
    default:
      return undefined;
  }
}

/** The plan the answer holds, unchecked: the JSON of its text (json mode) or the submit_plan input (tool mode). */
function submittedInput(message: Message, mode: Mode): unknown {
  const stop = stopProblem(message);
  if (mode === 'json') {
    const text = message.content.flatMap((b) => (b.type === 'text' ? [b.text] : [])).join('').trim();
    if (text === '') throw new LlmPlanError(`the model answered with no plan${stop ? ` (${stop})` : ''}`);
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      throw new LlmPlanError(`the plan is not valid JSON${stop ? ` (${stop})` : ''}: ${(error as Error).message}`, { cause: error });
    }
  }
  const call = message.content.find((block) => block.type === 'tool_use' && block.name === TOOL_NAME);
  if (call === undefined || call.type !== 'tool_use') {
    throw new LlmPlanError(`the model answered without calling ${TOOL_NAME}${stop ? ` (${stop})` : ''}`);
  }
  if (typeof call.input !== 'string') return call.input;
  try {
    return JSON.parse(call.input) as unknown;
  } catch (error) {
    throw new LlmPlanError(`the ${TOOL_NAME} input is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
}

/** Turns a model answer into a checked plan, or throws LlmPlanError saying what is wrong with it. */
export function planFromMessage(message: Message, mode: Mode = 'tool'): Plan {
  const parsed = LlmPlanSchema.safeParse(submittedInput(message, mode));
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

/**
 * The turn that tells the model what was wrong with its plan: a tool result
 * for its submit_plan call (every tool_use needs one), else a user message.
 */
function correction(answer: Message, error: LlmPlanError): Anthropic.Messages.MessageParam {
  const text = `That plan cannot be used: ${error.message}. Answer again with a corrected plan.`;
  const call = answer.content.find((b) => b.type === 'tool_use');
  if (call?.type === 'tool_use') return { role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, is_error: true, content: text }] };
  return { role: 'user', content: text };
}

export interface LlmPlannerOptions {
  model: ModelClient;
  /** Model id sent to the Messages API, e.g. `claude-sonnet-5-5`. */
  modelId: string;
  /** Output budget of the plan, thinking included. Default 16000: three steps of instructions and the model's thinking fit with room to spare. */
  maxTokens?: number;
  /** `output_config.effort`, for models that take it. */
  effort?: Effort;
}

/** Plans a task; the signal is the calling actor's, so stopping it aborts the request. */
export type LlmPlanner = (task: TaskMessage, signal: AbortSignal) => Promise<Plan>;

/**
 * A planner that asks the model (as caller `planner`) for a plan, without
 * forced tool use (the current models refuse it): with structured outputs
 * (`output_config.format`, the plan's JSON schema) where the model has them
 * (src/models/catalog.ts), else with a `submit_plan` tool under
 * `tool_choice: auto`. The answer is checked with zod and as a DAG; a bad
 * one gets one corrective turn saying what was wrong. It throws on HTTP
 * failure and LlmPlanError on a second bad answer, a refusal or a cut one:
 * `planTask` decides what to do then.
 *
 * @example
 * const planner = createLlmPlanner({ model, modelId: 'claude-sonnet-5-5' });
 * const plan = await planner(task, signal);
 */
export function createLlmPlanner(options: LlmPlannerOptions): LlmPlanner {
  const info = modelInfo(options.modelId);
  const mode: Mode = info?.structuredOutputs === true ? 'json' : 'tool';
  const tool = {
    name: TOOL_NAME,
    description: 'Submit the plan: which workers run, what each is told, and what each waits for.',
    input_schema: inputSchema(),
  };
  const outputConfig: Anthropic.Messages.OutputConfig = {
    ...(mode === 'json' ? { format: { type: 'json_schema' as const, schema: transformJSONSchema(inputSchema()) } } : {}),
    ...(options.effort !== undefined && info?.effort === true ? { effort: options.effort } : {}),
  };
  const maxTokens = Math.min(options.maxTokens ?? 16_000, info?.maxOutputTokens ?? Number.POSITIVE_INFINITY);
  return async (task, signal) => {
    const ask = (messages: Anthropic.Messages.MessageParam[]): Promise<Message> => {
      const params: MessageParams = {
        model: options.modelId,
        max_tokens: maxTokens,
        system: systemOf(mode),
        messages,
        ...(mode === 'tool' ? { tools: [tool], tool_choice: { type: 'auto' as const } } : {}),
        ...(Object.keys(outputConfig).length > 0 ? { output_config: outputConfig } : {}),
      };
      return options.model.createMessage(params, { signal, caller: 'planner' });
    };
    const first: Anthropic.Messages.MessageParam[] = [{ role: 'user', content: userMessage(task) }];
    const answer = await ask(first);
    try {
      return planFromMessage(answer, mode);
    } catch (error) {
      // A refusal or a cut answer would end the same way again.
      if (!(error instanceof LlmPlanError) || stopProblem(answer) !== undefined) throw error;
      const content = answer.content.flatMap(asParam);
      if (content.length === 0) throw error;
      const again = await ask([...first, { role: 'assistant', content }, correction(answer, error)]);
      try {
        return planFromMessage(again, mode);
      } catch (second) {
        if (second instanceof LlmPlanError) throw new LlmPlanError(`${second.message} (after one correction; first: ${error.message})`, { cause: second });
        throw second;
      }
    }
  };
}
