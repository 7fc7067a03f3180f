import { z } from 'zod';
import { ToolInputError } from '../errors.ts';
import { checkPattern, searchBase } from './globFiles.ts';
import { DEFAULT_SEARCH_TIMEOUT_MS, runSearch } from './search.ts';
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

/** Compiling is quick and safe; matching is what can run away, and runs in the search worker. */
function compile(pattern: string, ignoreCase: boolean): void {
  try {
    new RegExp(pattern, ignoreCase ? 'i' : '');
  } catch (error) {
    throw new ToolInputError(`pattern is not a valid JavaScript regular expression (${(error as Error).message}): escape special characters`);
  }
}

/**
 * ripgrep's interface over JavaScript regular expressions, matched in a
 * worker thread with a time limit (search.ts): no binary to install, and
 * the same confinement as Glob.
 */
export const grepTool = defineTool({
  name: 'Grep',
  description:
    'Searches file contents in the workspace with a regular expression. Paths are relative to the workspace root; ' +
    'binary files, node_modules and .git are skipped.',
  schema,
  async run(input, { workspace, bash, signal }) {
    compile(input.pattern, input['-i']);
    const filter = input.glob === undefined ? '**/*' : input.glob.includes('/') ? input.glob : `**/${input.glob}`;
    checkPattern(filter, workspace);
    const { base, isFile } = await searchBase(workspace, input.path);
    const job = {
      root: workspace.root, base, isFile, filter, pattern: input.pattern, ignoreCase: input['-i'],
      mode: input.output_mode, lineNumbers: input['-n'], maxFileBytes: MAX_FILE_BYTES, limit: input.head_limit ?? DEFAULT_HEAD_LIMIT,
    };
    const { entries, total } = await runSearch('grep', job, bash.searchTimeoutMs ?? DEFAULT_SEARCH_TIMEOUT_MS, signal);
    if (total === 0) return `No matches for /${input.pattern}/`;
    if (total > entries.length) entries.push(`… ${total - entries.length} more: narrow the pattern, path or glob`);
    return entries.join('\n');
  },
});
