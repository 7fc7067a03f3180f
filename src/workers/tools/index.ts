import { bashTool } from './bash.ts';
import { editTool } from './edit.ts';
import { globTool } from './glob.ts';
import { grepTool } from './grep.ts';
import { readTool } from './read.ts';
import { TOOL_NAMES, type Tool, type ToolName } from './tool.ts';
import { writeTool } from './write.ts';

export { TOOL_NAMES, type BashOptions, type Tool, type ToolContext, type ToolName } from './tool.ts';
export type { SandboxBinds } from '../sandbox/sandbox.ts';
export { sandboxEnv } from './sandboxEnv.ts';

const TOOLS: Readonly<Record<ToolName, Tool>> = {
  Read: readTool,
  Write: writeTool,
  Edit: editTool,
  Bash: bashTool,
  Glob: globTool,
  Grep: grepTool,
};

export function isToolName(name: string): name is ToolName {
  return (TOOL_NAMES as readonly string[]).includes(name);
}

/**
 * The tools of the given names, in the order given, without duplicates.
 *
 * @example
 * const tools = getTools(agent.tools); // the agent file's `tools:` line
 */
export function getTools(names: readonly ToolName[]): Tool[] {
  return [...new Set(names)].map((name) => TOOLS[name]);
}
