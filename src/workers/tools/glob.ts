import { stat } from 'node:fs/promises';
import { z } from 'zod';
import { ToolExecutionError } from '../errors.ts';
import { checkPattern, globFiles, searchBase } from './globFiles.ts';
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
  async run(input, { workspace }) {
    checkPattern(input.pattern, workspace);
    const { base, isFile } = await searchBase(workspace, input.path);
    if (isFile) throw new ToolExecutionError(`path ${workspace.relative(base)} is a file: give the folder to search in`);
    const files = await globFiles(workspace, base, input.pattern);
    if (files.length === 0) return `No files match ${input.pattern}`;
    const dated = await Promise.all(
      files.map(async (file) => ({ file, mtime: (await stat(file).catch(() => undefined))?.mtimeMs ?? 0 })),
    );
    dated.sort((a, b) => b.mtime - a.mtime || (a.file < b.file ? -1 : 1));
    const shown = dated.slice(0, MAX_RESULTS).map(({ file }) => workspace.relative(file));
    if (dated.length > MAX_RESULTS) shown.push(`… ${dated.length - MAX_RESULTS} more: narrow the pattern`);
    return shown.join('\n');
  },
});
