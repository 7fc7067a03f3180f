import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { ToolExecutionError } from '../errors.ts';
import { defineTool, filePath } from './tool.ts';

const schema = z.object({
  file_path: filePath('The file to write'),
  content: z.string().describe('The complete new content of the file'),
});

/** Creates or overwrites a file; the change log learns which, from the disk, before the write. */
export const writeTool = defineTool({
  name: 'Write',
  description:
    'Writes a file in the workspace, creating missing parent folders and replacing any existing content. ' +
    'Prefer Edit for changes to an existing file.',
  schema,
  async run(input, { workspace, changes }) {
    const { path: absolute, stats: before, parentExists } = workspace.locate(input.file_path);
    const shown = workspace.relative(absolute);
    if (before?.isDirectory()) throw new ToolExecutionError(`${shown} is a directory: write to a file inside it`);
    // Synchronous: a few small local syscalls cost less than one thread-pool round trip each.
    if (!parentExists) mkdirSync(path.dirname(absolute), { recursive: true });
    writeFileSync(absolute, input.content, 'utf8');
    changes.record(absolute, before !== undefined);
    const bytes = Buffer.byteLength(input.content, 'utf8');
    return `${before === undefined ? 'Created' : 'Overwrote'} ${shown} (${bytes} bytes)`;
  },
});
