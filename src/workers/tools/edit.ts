import { closeSync } from 'node:fs';
import { z } from 'zod';
import { ToolExecutionError, ToolInputError } from '../errors.ts';
import { openInWorkspace, readAll, replaceContent } from './openInside.ts';
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
    const { fd, size, absolute, shown } = openInWorkspace(workspace, input.file_path, 'edit');
    let message: string;
    try {
      message = edit(fd, size, input, shown);
    } catch (error) {
      if (typeof (error as { code?: unknown }).code !== 'string') throw error; // not a system call's failure
      // The write itself failed (a full disk, a file-size limit): the file is not edited, and may be cut short.
      const why = error instanceof Error ? error.message : String(error);
      throw new ToolExecutionError(`could not write ${shown} (${why}): ${shown} may be left truncated; write it whole again`, { cause: error });
    } finally {
      closeSync(fd);
    }
    changes.record(absolute, true);
    return message;
  },
});

/** Larger files are data, not source: edited with Bash if at all. */
const MAX_EDIT_BYTES = 10 * 1024 * 1024;

function edit(fd: number, size: number, input: { old_string: string; new_string: string; replace_all: boolean }, shown: string): string {
  if (size > MAX_EDIT_BYTES) throw new ToolExecutionError(`${shown} is ${size} bytes, over ${MAX_EDIT_BYTES}: edit it with Bash (sed)`);
  const content = readAll(fd, size, MAX_EDIT_BYTES).toString('utf8'); // synchronous as in Write
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
  replaceContent(fd, updated);
  return `Edited ${shown}: replaced ${input.replace_all ? count : 1} occurrence${count > 1 && input.replace_all ? 's' : ''}`;
}
