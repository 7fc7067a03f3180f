import type Anthropic from '@anthropic-ai/sdk';
import { SpanStatusCode } from '@opentelemetry/api';
import { inSpan } from '../observability/tracing.ts';
import path from 'node:path';
import { BoxFailedError } from './box/errors.ts';
import { WorkerAbortedError } from './errors.ts';
import type { Tool, ToolContext } from './tools/index.ts';
import type { ToolBox } from './tools/tool.ts';

type ToolResult = Anthropic.Messages.ToolResultBlockParam;

function failure(id: string, message: string): ToolResult {
  return { type: 'tool_result', tool_use_id: id, is_error: true, content: message };
}

/**
 * Runs one `tool_use` block and returns its `tool_result`. Whatever goes
 * wrong (unknown tool, bad input, a path outside the workspace, a failing
 * command, a bug in a tool) is told to the model, which can often recover;
 * only an abort leaves the loop.
 */
export function runToolUse(call: Anthropic.Messages.ToolUseBlock, tools: readonly Tool[], ctx: ToolContext): Promise<ToolResult> {
  const attributes = { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': call.name, 'gen_ai.tool.call.id': call.id };
  return inSpan(`execute_tool ${call.name}`, attributes, async (span) => {
    const result = await runTool(call, tools, ctx);
    // The model is told and the loop goes on, but the trace shows which call went wrong.
    if (result.is_error) span.setStatus({ code: SpanStatusCode.ERROR, message: typeof result.content === 'string' ? result.content.slice(0, 200) : 'tool error' });
    return result;
  });
}

/**
 * The call runs inside the task's box; what it changed there goes into the
 * run's change log as a call run here would have put it.
 */
async function runInBox(call: Anthropic.Messages.ToolUseBlock, tool: Tool, ctx: ToolContext, box: ToolBox): Promise<ToolResult> {
  const result = await box.call(tool.name, call.input, ctx.signal);
  for (const { path: file, change } of result.changed) {
    const absolute = path.posix.join(ctx.workspace.root, file);
    if (change === 'deleted') ctx.changes.recordDeleted(absolute);
    else ctx.changes.record(absolute, change === 'modified');
  }
  if (result.isError) return failure(call.id, `${call.name} failed: ${result.text}`);
  return { type: 'tool_result', tool_use_id: call.id, content: result.text };
}

async function runTool(call: Anthropic.Messages.ToolUseBlock, tools: readonly Tool[], ctx: ToolContext): Promise<ToolResult> {
  const tool = tools.find((t) => t.name === call.name);
  if (tool === undefined) {
    const offered = tools.map((t) => t.name).join(', ') || 'none';
    return failure(call.id, `No tool named ${call.name} is available to this agent. Available tools: ${offered}.`);
  }
  try {
    if (ctx.box !== undefined) return await runInBox(call, tool, ctx, ctx.box);
    const content = await tool.run(call.input, ctx);
    return { type: 'tool_result', tool_use_id: call.id, content };
  } catch (error) {
    // A box that stopped takes every later call with it: the run ends, and another attempt gets a new box.
    if (error instanceof WorkerAbortedError || error instanceof BoxFailedError) throw error;
    const message = error instanceof Error ? error.message : String(error);
    return failure(call.id, `${call.name} failed: ${message}`);
  }
}
