import { z } from 'zod';
import { ToolExecutionError } from '../errors.ts';
import { checkPattern, searchBase } from './globFiles.ts';
import { DEFAULT_SEARCH_TIMEOUT_MS, runSearch } from './search.ts';
import { defineTool } from './tool.ts';

const MAX_RESULTS = 100;

const schema = z.object({
  pattern: z.string().min(1).describe('Glob pattern, e.g. "**/*.js" or "src/models/*.ts"'),
  path: z.string().optional().describe('Folder to search in, relative to the workspace root (default: the root)'),
});

/** Most recently modified first, as Claude Code orders them: what was just written is usually what matters. */
export const globTool = defineTool({
  name: 'Glob',
  description:
    'Finds files by glob pattern in the workspace, most recently modified first. ' +
    'Paths are relative to the workspace root. node_modules and .git are skipped.',
  schema,
  async run(input, { workspace, bash, signal }) {
    checkPattern(input.pattern, workspace);
    const { base, isFile } = await searchBase(workspace, input.path);
    if (isFile) throw new ToolExecutionError(`path ${workspace.relative(base)} is a file: give the folder to search in`);
    const job = { root: workspace.root, base, pattern: input.pattern, limit: MAX_RESULTS };
    const { files, total } = await runSearch('glob', job, bash.searchTimeoutMs ?? DEFAULT_SEARCH_TIMEOUT_MS, signal);
    if (total === 0) return `No files match ${input.pattern}`;
    if (total > files.length) files.push(`… ${total - files.length} more: narrow the pattern`);
    return files.join('\n');
  },
});
