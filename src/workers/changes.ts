import path from 'node:path';

/** What one worker run did to its workspace, as workspace-relative posix paths, sorted. */
export interface FileChanges {
  created: string[];
  modified: string[];
  /** Files that were there before the run and are gone (Bash `rm`); created-then-deleted ones are dropped. */
  deleted: string[];
}

/**
 * The record of files a worker run touched, kept by the tools at write time
 * rather than taken from the model's own account, which may be wrong. A file
 * created and then edited in the same run stays `created`: for the task it
 * is new.
 *
 * @example
 * const log = new FileChangeLog(workspace.root);
 * log.record(absPath, existedBefore);
 * log.snapshot(); // { created: ['src/a.js'], modified: [], deleted: [] }
 */
export class FileChangeLog {
  private readonly created = new Set<string>();
  private readonly modified = new Set<string>();
  private readonly deleted = new Set<string>();

  constructor(readonly root: string) {}

  /** A write to `absolute`; `existedBefore` is whether the file was there just before it. */
  record(absolute: string, existedBefore: boolean): void {
    const rel = this.relative(absolute);
    // A file that was there before the run, removed and written again, is modified, not new.
    const wasThere = this.deleted.delete(rel) || existedBefore;
    if (this.created.has(rel) || this.modified.has(rel)) return;
    (wasThere ? this.modified : this.created).add(rel);
  }

  /** A file removed during the run (seen by comparing the workspace before and after a Bash command). */
  recordDeleted(absolute: string): void {
    const rel = this.relative(absolute);
    if (this.created.delete(rel)) return;
    this.modified.delete(rel);
    this.deleted.add(rel);
  }

  snapshot(): FileChanges {
    return {
      created: [...this.created].sort(),
      modified: [...this.modified].sort(),
      deleted: [...this.deleted].sort(),
    };
  }

  private relative(absolute: string): string {
    const rel = path.relative(this.root, absolute);
    if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) {
      throw new Error(`FileChangeLog got ${absolute}, outside ${this.root}: resolve paths through Workspace.resolve first`);
    }
    return rel.split(path.sep).join('/');
  }
}
