import { readdir, readFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { WORKER_NAMES, type WorkerName } from '../protocol/output.ts';
import { AgentFileError } from './agentFileError.ts';
import type { ToolName } from './tools/index.ts';

/** One worker's definition, read from a Claude Code subagent file in `agents/`. */
export interface AgentDefinition {
  name: string;
  description: string;
  tools: ToolName[];
  /** As written: `sonnet`, `opus`, `haiku`, `inherit` or a full model id; resolved by the models layer. */
  model: string;
  systemPrompt: string;
  file: string;
}

/**
 * The tools an agent file may name. Kept here, not imported as a value, so
 * that loading agent files does not load the tool implementations; the
 * `satisfies` makes the compiler reject a name the tools module does not have.
 */
export const AGENT_TOOLS = ['Read', 'Write', 'Edit', 'Bash', 'Glob', 'Grep'] as const satisfies readonly ToolName[];
// And the other way round: a tool added to the tools module must be added here.
const everyToolListed: [Exclude<ToolName, (typeof AGENT_TOOLS)[number]>] extends [never] ? true : never = true;
void everyToolListed;

const MODEL_ALIASES = ['sonnet', 'opus', 'haiku', 'inherit'];

/**
 * The front matter as Claude Code writes it. Unknown keys (`color`,
 * `permissionMode`, ...) are tolerated: the same file should work in Claude
 * Code and here. `tools` may be omitted (all tools, as in Claude Code), and
 * so may `model` (`inherit`).
 */
const FrontMatterSchema = z.looseObject({
  name: z
    .string({ error: 'is missing; add `name: <worker>` (lower-case letters, digits and hyphens)' })
    .regex(/^[a-z][a-z0-9-]*$/, 'must be lower-case letters, digits and hyphens, e.g. db-worker'),
  description: z
    .string({ error: 'is missing; add `description: <when to use this agent>`' })
    .trim()
    .min(1, 'is empty; say what this agent does and when to use it'),
  tools: z
    .union([z.string(), z.array(z.string())], {
      error: 'must be a comma-separated string ("Read, Write") or a YAML list of tool names',
    })
    .optional(),
  model: z.string({ error: 'must be a string: sonnet, opus, haiku, inherit or a full model id' }).optional(),
});

function parseTools(file: string, raw: string | string[] | undefined): ToolName[] {
  if (raw === undefined) return [...AGENT_TOOLS];
  const names = (typeof raw === 'string' ? raw.split(',') : raw).map((name) => name.trim()).filter((name) => name !== '');
  if (names.length === 0) {
    throw new AgentFileError(file, 'tools', `is empty; list at least one of ${AGENT_TOOLS.join(', ')}, or remove the field to allow all`);
  }
  const tools: ToolName[] = [];
  for (const name of names) {
    const tool = AGENT_TOOLS.find((known) => known === name);
    if (tool === undefined) {
      throw new AgentFileError(file, 'tools', `unknown tool "${name}" (allowed: ${AGENT_TOOLS.join(', ')})`);
    }
    if (!tools.includes(tool)) tools.push(tool);
  }
  return tools;
}

function parseModel(file: string, raw: string | undefined): string {
  const model = (raw ?? 'inherit').trim();
  if (MODEL_ALIASES.includes(model) || /^claude-[a-z0-9][a-z0-9.-]*$/.test(model)) return model;
  throw new AgentFileError(
    file,
    'model',
    `"${model}" is not a model; use ${MODEL_ALIASES.join(', ')} or a full Claude model id such as claude-sonnet-4-6`,
  );
}

/** Splits `---\n<yaml>\n---\n<body>`; CRLF and a BOM are accepted, as editors on every platform write them. */
function splitFrontMatter(file: string, text: string): { yaml: string; body: string } {
  const normalised = text.replace(/^\uFEFF/, '').replace(/\r\n/g, '\n');
  const match = /^---[ \t]*\n(?:([\s\S]*?)\n)?---[ \t]*(?:\n|$)([\s\S]*)$/.exec(normalised);
  if (match === null) {
    throw new AgentFileError(
      file,
      'front matter',
      'missing; start the file with a line `---`, the YAML fields (name, description, tools, model), a closing `---`, then the system prompt',
    );
  }
  return { yaml: match[1] ?? '', body: match[2] ?? '' };
}

/**
 * Reads one Claude Code subagent file: YAML front matter (`name`,
 * `description`, `tools`, `model`) between `---` lines, then the system
 * prompt. Throws AgentFileError naming the file and the field.
 *
 * @example
 * const agent = await loadAgentFile('agents/db-worker.md');
 * agent.tools // ['Read', 'Write', 'Edit', 'Bash', 'Glob', 'Grep']
 */
export async function loadAgentFile(path: string): Promise<AgentDefinition> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const problem = code === 'ENOENT' ? 'not found; create it (see agents/ in the repository for the format)' : `cannot be read (${code ?? String(error)})`;
    throw new AgentFileError(path, 'file', problem, { cause: error });
  }
  const { yaml, body } = splitFrontMatter(path, text);
  const doc = parseDocument(yaml);
  const yamlError = doc.errors[0];
  if (yamlError !== undefined) {
    // +1: the opening `---` is line 1 of the file, the YAML starts on line 2.
    const line = yamlError.linePos?.[0].line;
    const where = line === undefined ? '' : ` at line ${line + 1}`;
    throw new AgentFileError(path, 'front matter', `invalid YAML${where}: ${yamlError.message.split('\n')[0] ?? ''}`);
  }
  const data: unknown = doc.toJS();
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new AgentFileError(path, 'front matter', 'must be a YAML mapping of fields (name: ..., description: ...)');
  }
  const parsed = FrontMatterSchema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.join('.') || 'front matter';
    throw new AgentFileError(path, field, issue?.message ?? 'invalid');
  }
  const systemPrompt = body.trim();
  if (systemPrompt === '') {
    throw new AgentFileError(path, 'body', 'the system prompt is empty; write it below the closing `---`');
  }
  return {
    name: parsed.data.name,
    description: parsed.data.description,
    tools: parseTools(path, parsed.data.tools),
    model: parseModel(path, parsed.data.model),
    systemPrompt,
    file: path,
  };
}

function isWorker(name: string): name is WorkerName {
  return (WORKER_NAMES as readonly string[]).includes(name);
}

/**
 * Loads the agent folder: every `*.md` file in it is an agent (as in Claude
 * Code), each named after its file, and there must be exactly the three
 * workers. Throws AgentFileError on the first problem, so start-up stops with
 * a message that says which file to fix.
 *
 * @example
 * const agents = await loadAgents('agents');
 * agents.get('db-worker')?.model // 'sonnet'
 */
export async function loadAgents(dir: string): Promise<ReadonlyMap<WorkerName, AgentDefinition>> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((name) => extname(name) === '.md').sort();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new AgentFileError(dir, 'directory', `cannot be read (${code ?? String(error)}); point --agents at the folder holding ${WORKER_NAMES.map((w) => `${w}.md`).join(', ')}`, { cause: error });
  }
  const agents = new Map<WorkerName, AgentDefinition>();
  for (const fileName of names) {
    const file = join(dir, fileName);
    const agent = await loadAgentFile(file);
    const stem = basename(fileName, '.md');
    if (agent.name !== stem) {
      throw new AgentFileError(file, 'name', `"${agent.name}" does not match the file name; set \`name: ${stem}\` or rename the file to ${agent.name}.md`);
    }
    if (!isWorker(agent.name)) {
      throw new AgentFileError(file, 'name', `"${agent.name}" is not a worker of this orchestrator (workers: ${WORKER_NAMES.join(', ')}); remove or rename the file`);
    }
    agents.set(agent.name, agent);
  }
  for (const worker of WORKER_NAMES) {
    if (!agents.has(worker)) {
      throw new AgentFileError(join(dir, `${worker}.md`), 'file', `not found; every worker needs its agent file (${WORKER_NAMES.map((w) => `${w}.md`).join(', ')})`);
    }
  }
  return agents;
}
