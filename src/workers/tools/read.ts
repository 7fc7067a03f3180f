import { closeSync } from 'node:fs';
import { z } from 'zod';
import { ToolExecutionError } from '../errors.ts';
import { looksBinary } from './fileStat.ts';
import { openInWorkspace, readAll } from './openInside.ts';
import { defineTool, filePath } from './tool.ts';

const DEFAULT_LIMIT = 2000;
const MAX_LINE_CHARS = 2000;
/** Larger files must be read in parts through Bash (head, sed -n), not loaded whole. */
const MAX_FILE_BYTES = 10 * 1024 * 1024;

const schema = z.object({
  file_path: filePath('The file to read'),
  offset: z.number().int().min(1).optional().describe('Line number to start reading from (1-based); for large files'),
  limit: z.number().int().min(1).optional().describe(`Number of lines to read (default ${DEFAULT_LIMIT})`),
});

/** Lines in `cat -n` form, as Claude Code shows them, so line numbers can be quoted back. */
export const readTool = defineTool({
  name: 'Read',
  description:
    'Reads a text file of the workspace. Output is numbered like `cat -n`; the numbers are not part of the file. ' +
    `Reads up to ${DEFAULT_LIMIT} lines from the start unless offset/limit are given.`,
  schema,
  async run(input, { workspace }) {
    // A missing file, a folder or a FIFO is refused before it is opened (see openInWorkspace).
    const { fd, size, shown } = openInWorkspace(workspace, input.file_path, 'read');
    let content: Buffer;
    try {
      if (size > MAX_FILE_BYTES) {
        throw new ToolExecutionError(`${shown} is ${size} bytes, over ${MAX_FILE_BYTES}: read parts of it with Bash (sed -n '1,200p')`);
      }
      content = readAll(fd, size, MAX_FILE_BYTES); // synchronous as in Write
    } finally {
      closeSync(fd);
    }
    if (looksBinary(content)) throw new ToolExecutionError(`${shown} is a binary file: inspect it with Bash (file, xxd | head)`);
    if (content.length === 0) return `<${shown} is empty>`;
    const lines = content.toString('utf8').split('\n');
    if (lines.at(-1) === '') lines.pop();
    const start = (input.offset ?? 1) - 1;
    if (start >= lines.length) {
      throw new ToolExecutionError(`${shown} has ${lines.length} lines; offset ${start + 1} is past its end`);
    }
    const end = Math.min(lines.length, start + (input.limit ?? DEFAULT_LIMIT));
    const numbered = lines.slice(start, end).map((line, i) => {
      const cut = line.length > MAX_LINE_CHARS ? `${line.slice(0, MAX_LINE_CHARS)}… [line cut]` : line;
      return `${String(start + i + 1).padStart(6)}\t${cut}`;
    });
    if (end < lines.length) numbered.push(`… ${lines.length - end} more lines: read on with offset ${end + 1}`);
    return numbered.join('\n');
  },
});
