import { readFileSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { ToolExecutionError, ToolInputError } from '../errors.ts';
import { checkFile } from './fileStat.ts';
import { defineTool, filePath } from './tool.ts';

const schema = z.object({
  file_path: filePath('The file to edit'),
  old_string: z.string().min(1, 'old_string must not be empty (create files with Write)').describe('The exact text to replace'),
  new_string: z.string().describe('The text to put in its place (must differ from old_string)'),
  replace_all: z.boolean().default(false).describe('Replace every occurrence instead of exactly one (default false)'),
});

function occurrences(haystack: string, needle: string): number {
  return haystack.split(needle).length - 1;
}

/** Exact string replacement; an ambiguous match is refused rather than guessed. */
export const editTool = defineTool({
  name: 'Edit',
  description:
    'Replaces exact text in an existing file. old_string must match the file exactly (whitespace included) and ' +
    'occur once, unless replace_all is true. Read the file first.',
  schema,
  async run(input, { workspace, changes }) {
    if (input.old_string === input.new_string) {
      throw new ToolInputError('old_string and new_string are the same: nothing would change');
    }
    const { path: absolute, stats } = workspace.locate(input.file_path);
    const shown = workspace.relative(absolute);
    checkFile(stats, shown);
    const content = readFileSync(absolute, 'utf8'); // synchronous as in Write
    const count = occurrences(content, input.old_string);
    if (count === 0) {
      throw new ToolExecutionError(
        `old_string was not found in ${shown}: Read the file and copy the exact text, indentation and line breaks included`,
      );
    }
    if (count > 1 && !input.replace_all) {
      throw new ToolExecutionError(
        `old_string occurs ${count} times in ${shown}: include more surrounding lines to make it unique, or set replace_all`,
      );
    }
    // Never String.replace with a string: it would interpret `$&` and friends in new_string.
    const updated = input.replace_all
      ? content.split(input.old_string).join(input.new_string)
      : content.replace(input.old_string, () => input.new_string);
    writeFileSync(absolute, updated, 'utf8');
    changes.record(absolute, true);
    return `Edited ${shown}: replaced ${input.replace_all ? count : 1} occurrence${count > 1 && input.replace_all ? 's' : ''}`;
  },
});
