import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span } from '@opentelemetry/api';
import type { ModelClient } from '../models/types.ts';
import type { TaskRef } from '../protocol/taskRef.ts';

/**
 * The spans of a task's trace, through the OpenTelemetry API only: without a
 * registered SDK (no OTEL_* variables, see otel.ts) every call here is the
 * API's no-op and nothing is recorded or sent. Kept out of the machines: the
 * actors, the model boundary and the tool runner call these.
 *
 *   task                      task.id (TaskRef.key: the task id, or raw-… for a message with none), task.outcome (error status unless completed)
 *   ├─ plan                   plan.source, plan.workers
 *   ├─ worker <name>          one per attempt: worker.name, worker.attempt (error status when it failed)
 *   │  ├─ chat <model>        GenAI conventions: gen_ai.operation.name, gen_ai.request.model, gen_ai.usage.*
 *   │  └─ execute_tool <tool> gen_ai.tool.name, gen_ai.tool.call.id (error status on an is_error result)
 *   └─ publish
 */

const tracer = () => trace.getTracer('backend-orchestrator');

const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** Runs `fn` in a span (the active one for everything `fn` awaits); a throw marks it failed and goes on. */
export function inSpan<T>(
  name: string,
  attributes: Attributes,
  fn: (span: Span) => Promise<T>,
  o: { parent?: Context; kind?: SpanKind } = {},
): Promise<T> {
  return tracer().startActiveSpan(name, { attributes, kind: o.kind ?? SpanKind.INTERNAL }, o.parent ?? context.active(), async (span) => {
    try {
      return await fn(span);
    } catch (error) {
      if (error instanceof Error) span.recordException(error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: message(error) });
      throw error;
    } finally {
      span.end();
    }
  });
}

/** One root span per task, open from its first step (planning, or a worker when resumed) to its publication. */
export class TaskTraces {
  private readonly open = new Map<string, Span>();

  /** The context to start a task's child spans in; starts the task's span on first use. */
  contextOf(ref: TaskRef): Context {
    let span = this.open.get(ref.key);
    if (span === undefined) {
      span = tracer().startSpan('task', { root: true, attributes: { 'task.id': ref.key } }, ROOT_CONTEXT);
      this.open.set(ref.key, span);
    }
    return trace.setSpan(ROOT_CONTEXT, span);
  }

  /** Ends a task's span with its outcome; partial and failed tasks are errors. */
  finish(ref: TaskRef, outcome: string, error?: string): void {
    const span = this.open.get(ref.key) ?? tracer().startSpan('task', { root: true, attributes: { 'task.id': ref.key } }, ROOT_CONTEXT);
    this.open.delete(ref.key);
    span.setAttribute('task.outcome', outcome);
    if (outcome !== 'completed' && outcome !== 'completed_with_warnings') span.setStatus({ code: SpanStatusCode.ERROR, message: error ?? outcome });
    span.end();
  }

  /** At shutdown: tasks still open are handed to another instance, which continues them in a trace of its own. */
  endAll(outcome = 'handed_off'): void {
    for (const span of this.open.values()) span.setAttribute('task.outcome', outcome).end();
    this.open.clear();
  }
}

/** The model boundary with a `chat <model>` client span per call, as the GenAI semantic conventions name it. */
export function traceModel(model: ModelClient): ModelClient {
  return {
    kind: model.kind,
    createMessage: (params, options) =>
      inSpan(
        `chat ${params.model}`,
        {
          'gen_ai.operation.name': 'chat',
          'gen_ai.provider.name': 'anthropic',
          'gen_ai.request.model': params.model,
          'gen_ai.request.max_tokens': params.max_tokens,
          'gen_ai.agent.name': options.caller,
        },
        async (span) => {
          const answer = await model.createMessage(params, options);
          span.setAttributes({
            'gen_ai.response.id': answer.id,
            'gen_ai.response.model': answer.model,
            'gen_ai.response.finish_reasons': [answer.stop_reason ?? 'unknown'],
            'gen_ai.usage.input_tokens': answer.usage.input_tokens,
            'gen_ai.usage.output_tokens': answer.usage.output_tokens,
            ...(answer.usage.cache_read_input_tokens ? { 'gen_ai.usage.cache_read.input_tokens': answer.usage.cache_read_input_tokens } : {}),
            ...(answer.usage.cache_creation_input_tokens
              ? { 'gen_ai.usage.cache_creation.input_tokens': answer.usage.cache_creation_input_tokens }
              : {}),
          });
          return answer;
        },
        { kind: SpanKind.CLIENT },
      ),
  };
}
