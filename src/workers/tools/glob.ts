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
    const job = { op: 'glob', root: workspace.root, base, pattern: input.pattern } as const;
    const dated = await runSearch<{ file: string; mtime: number }[]>(job, bash.searchTimeoutMs ?? DEFAULT_SEARCH_TIMEOUT_MS, signal);
    if (dated.length === 0) return `No files match ${input.pattern}`;
    dated.sort((a, b) => b.mtime - a.mtime || (a.file < b.file ? -1 : 1));
    const shown = dated.slice(0, MAX_RESULTS).map(({ file }) => file);
    if (dated.length > MAX_RESULTS) shown.push(`… ${dated.length - MAX_RESULTS} more: narrow the pattern`);
    return shown.join('\n');
  },
});
