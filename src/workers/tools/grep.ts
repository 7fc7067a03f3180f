import { readFile, stat } from 'node:fs/promises';
import { z } from 'zod';
import { ToolInputError } from '../errors.ts';
import { looksBinary } from './fileStat.ts';
import { checkPattern, globFiles, searchBase } from './globFiles.ts';
import { defineTool } from './tool.ts';

/** Files larger than this are generated or data, not source: skipped. */
const MAX_FILE_BYTES = 2 * 1024 * 1024;
const DEFAULT_HEAD_LIMIT = 250;

const schema = z.object({
  pattern: z.string().min(1).describe('JavaScript regular expression to search file contents for'),
  path: z.string().optional().describe('File or folder to search, relative to the workspace root (default: the root)'),
  glob: z.string().optional().describe('Only files matching this glob, e.g. "*.js" (any folder) or "src/**/*.ts"'),
  output_mode: z
    .enum(['content', 'files_with_matches', 'count'])
    .default('files_with_matches')
    .describe('"content": matching lines; "files_with_matches" (default): file paths; "count": matches per file'),
  '-i': z.boolean().default(false).describe('Case-insensitive search'),
  '-n': z.boolean().default(true).describe('Show line numbers (content mode)'),
  head_limit: z.number().int().min(1).optional().describe(`Keep only the first N entries (default ${DEFAULT_HEAD_LIMIT})`),
});

function compile(pattern: string, ignoreCase: boolean): RegExp {
  try {
    return new RegExp(pattern, ignoreCase ? 'i' : '');
  } catch (error) {
    throw new ToolInputError(`pattern is not a valid JavaScript regular expression (${(error as Error).message}): escape special characters`);
  }
}

async function searchable(file: string): Promise<string | undefined> {
  const stats = await stat(file).catch(() => undefined);
  if (stats === undefined || !stats.isFile() || stats.size > MAX_FILE_BYTES) return undefined;
  const content = await readFile(file);
  return looksBinary(content) ? undefined : content.toString('utf8');
}

/** ripgrep's interface in plain JS: no binary to install in the worker's image, and the same confinement as Glob. */
export const grepTool = defineTool({
  name: 'Grep',
  description:
    'Searches file contents in the workspace with a regular expression. Paths are relative to the workspace root; ' +
    'binary files, node_modules and .git are skipped.',
  schema,
  async run(input, { workspace }) {
    const regex = compile(input.pattern, input['-i']);
    const filter = input.glob === undefined ? '**/*' : input.glob.includes('/') ? input.glob : `**/${input.glob}`;
    checkPattern(filter, workspace);
    const { base, isFile } = await searchBase(workspace, input.path);
    const files = isFile ? [base] : (await globFiles(workspace, base, filter)).sort();
    const entries: string[] = [];
    for (const file of files) {
      const content = await searchable(file);
      if (content === undefined) continue;
      const shown = workspace.relative(file);
      const lines = content.split('\n');
      const hits = lines.flatMap((line, i) => (regex.test(line) ? [i] : []));
      if (hits.length === 0) continue;
      if (input.output_mode === 'files_with_matches') entries.push(shown);
      else if (input.output_mode === 'count') entries.push(`${shown}:${hits.length}`);
      else entries.push(...hits.map((i) => (input['-n'] ? `${shown}:${i + 1}:${lines[i]}` : `${shown}:${lines[i]}`)));
    }
    if (entries.length === 0) return `No matches for /${input.pattern}/`;
    const limit = input.head_limit ?? DEFAULT_HEAD_LIMIT;
    const kept = entries.slice(0, limit);
    if (entries.length > limit) kept.push(`… ${entries.length - limit} more: narrow the pattern, path or glob`);
    return kept.join('\n');
  },
});
