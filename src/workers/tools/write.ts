import { closeSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { ToolExecutionError } from '../errors.ts';
import { checkRegular, openInside, replaceContent } from './openInside.ts';
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
    const { path: absolute, stats: before } = workspace.locate(input.file_path);
    const shown = workspace.relative(absolute);
    if (before?.isDirectory()) throw new ToolExecutionError(`${shown} is a directory: write to a file inside it`);
    if (before !== undefined) checkRegular(before, shown); // a FIFO or a hard link is refused before it is opened
    // Synchronous: a few small local syscalls cost less than one thread-pool round trip each.
    const { fd, created } = openInside(workspace.root, path.relative(workspace.root, absolute), 'write', shown);
    try {
      replaceContent(fd, input.content);
    } finally {
      closeSync(fd);
    }
    changes.record(absolute, !created);
    const bytes = Buffer.byteLength(input.content, 'utf8');
    return `${created ? 'Created' : 'Overwrote'} ${shown} (${bytes} bytes)`;
  },
});
