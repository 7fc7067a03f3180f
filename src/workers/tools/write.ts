import { closeSync, unlinkSync } from 'node:fs';
import { z } from 'zod';
import { ToolExecutionError } from '../errors.ts';
import { openInWorkspace, replaceContent } from './openInside.ts';
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
    // Synchronous: a few small local syscalls cost less than one thread-pool round trip each.
    // A folder, FIFO or hard link is refused before it is opened (see openInWorkspace).
    const { fd, created, absolute, shown } = openInWorkspace(workspace, input.file_path, 'write');
    try {
      replaceContent(fd, input.content, created);
    } catch (error) {
      // A full disk, a quota, a file-size limit: a write that failed is not a file written.
      closeSync(fd);
      if (created) {
        try {
          unlinkSync(absolute); // the empty or partial file this call created
        } catch {
          // gone already
        }
      }
      const why = error instanceof Error ? error.message : String(error);
      throw new ToolExecutionError(
        `could not write ${shown} (${why}): ${created ? 'nothing was written' : `${shown} may be left truncated; write it again`}`,
        { cause: error },
      );
    }
    closeSync(fd);
    changes.record(absolute, !created);
    const bytes = Buffer.byteLength(input.content, 'utf8');
    return `${created ? 'Created' : 'Overwrote'} ${shown} (${bytes} bytes)`;
  },
});
