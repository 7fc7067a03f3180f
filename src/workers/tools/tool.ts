import type Anthropic from '@anthropic-ai/sdk';
import { z } from 'zod';
import type { FileChangeLog } from '../changes.ts';
import { ToolInputError } from '../errors.ts';
import type { Sandbox, SandboxBinds, SandboxLimits } from '../sandbox/sandbox.ts';
import type { Workspace } from '../workspace.ts';

/** The tools a worker can be given, named as Claude Code names them so agent files carry over. */
export const TOOL_NAMES = ['Read', 'Write', 'Edit', 'Bash', 'Glob', 'Grep'] as const;
export type ToolName = (typeof TOOL_NAMES)[number];

export interface BashOptions {
  /** Default and ceiling of a command's run time; the model may ask for less. */
  timeoutMs: number;
  /** Output kept per command (stdout and stderr together); the rest is cut with a note. */
  maxOutputBytes: number;
  /** The whole environment of the command: build it with `sandboxEnv`, never pass process.env. */
  env: Record<string, string>;
  /** The OS boundary every command runs in (see src/workers/sandbox/sandbox.ts). */
  sandbox: Sandbox;
  /** Kernel limits of each command; default DEFAULT_LIMITS. */
  limits?: SandboxLimits;
  /** Unix socket of the egress proxy (`--allow-domain`); absent: no network. */
  proxySocket?: string;
  /** How long Glob and Grep may search before they are stopped (they run off the main thread). Default 10 s. */
  searchTimeoutMs?: number;
  /** How long one walk of the workspace (before and after each command, off the main thread) may take. Default 5 s. */
  walkTimeoutMs?: number;
  /** Files and folders one walk looks at before it stops. Default 100,000. */
  walkMaxEntries?: number;
}

/**
 * How Bash learns what a command changed, when the workspace is not an
 * ordinary folder to walk (the task box walks its layer instead): `before`
 * runs before the command and answers the step that records the changes
 * afterwards, with a note for the result when some went unrecorded.
 */
export interface ChangeTracker {
  before(signal: AbortSignal): Promise<(changes: FileChangeLog, signal: AbortSignal) => Promise<string | undefined>>;
}

/**
 * What the tools need of a task box (box/types.ts `TaskBox` is one): named
 * here, not imported, since the box's contract names the tools.
 */
export interface ToolBox {
  readonly root: string;
  call(
    tool: ToolName,
    input: unknown,
    signal: AbortSignal,
  ): Promise<{ text: string; isError: boolean; changed: readonly { path: string; change: 'created' | 'modified' | 'deleted' }[] }>;
}

/** What a tool may touch: one workspace, one change log, one run's signal. */
export interface ToolContext {
  workspace: Workspace;
  changes: FileChangeLog;
  signal: AbortSignal;
  bash: BashOptions;
  /** What a command may see besides the system; default: the workspace root writable, nothing else. */
  binds?: SandboxBinds;
  /** How Bash finds a command's changes; default: the workspace walked before and after (workspaceSnapshot.ts). */
  tracker?: ChangeTracker;
  /** The task's box: when given, every tool call runs in it (runToolUse.ts) and `workspace` only names its root. */
  box?: ToolBox;
}

export interface Tool {
  readonly name: ToolName;
  readonly definition: Anthropic.Messages.Tool;
  /** The text the model sees; a throw becomes an `is_error` tool result carrying the message. */
  run(input: unknown, ctx: ToolContext): Promise<string>;
}

interface ToolSpec<S extends z.ZodObject> {
  name: ToolName;
  description: string;
  schema: S;
  run(input: z.output<S>, ctx: ToolContext): Promise<string>;
}

/** JSON Schema of what the model may send (`io: 'input'`: fields with defaults are optional). */
function inputSchema(schema: z.ZodObject): Anthropic.Messages.Tool.InputSchema {
  const { $schema: _drop, ...json } = z.toJSONSchema(schema, { io: 'input' }) as Record<string, unknown>;
  return { ...json, type: 'object' };
}

/**
 * A tool whose input is checked with the same zod schema its definition is
 * derived from, so what the model is told and what is enforced cannot drift.
 */
export function defineTool<S extends z.ZodObject>(spec: ToolSpec<S>): Tool {
  return {
    name: spec.name,
    definition: { name: spec.name, description: spec.description, input_schema: inputSchema(spec.schema) },
    async run(input, ctx) {
      const parsed = spec.schema.safeParse(input);
      if (!parsed.success) {
        const detail = z.prettifyError(parsed.error).replaceAll('\n', '; ');
        throw new ToolInputError(`invalid input for ${spec.name}: ${detail}. Send the fields its input_schema lists.`);
      }
      return spec.run(parsed.data, ctx);
    },
  };
}

/** A file path field as Claude Code names it; relative paths are taken from the workspace root. */
export const filePath = (what: string) =>
  z.string().min(1).describe(`${what}: absolute, or relative to the workspace root (the current directory)`);
