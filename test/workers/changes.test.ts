import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileChangeLog } from '../../src/workers/changes.ts';

const root = path.resolve('/tmp/ws-root');
const at = (rel: string) => path.join(root, ...rel.split('/'));

describe('FileChangeLog', () => {
  it('sorts writes into created and modified by whether the file existed before', () => {
    const log = new FileChangeLog(root);
    log.record(at('src/models/user.js'), false);
    log.record(at('package.json'), true);
    expect(log.snapshot()).toEqual({ created: ['src/models/user.js'], modified: ['package.json'], deleted: [] });
  });

  it('keeps a file created and then edited in the same run as created', () => {
    const log = new FileChangeLog(root);
    log.record(at('a.js'), false);
    log.record(at('a.js'), true);
    expect(log.snapshot()).toEqual({ created: ['a.js'], modified: [], deleted: [] });
  });

  it('drops a file created and deleted in the run; a deleted old file is listed as deleted', () => {
    const log = new FileChangeLog(root);
    log.record(at('tmp.txt'), false);
    log.recordDeleted(at('tmp.txt'));
    log.record(at('old.txt'), true);
    log.recordDeleted(at('old.txt'));
    expect(log.snapshot()).toEqual({ created: [], modified: [], deleted: ['old.txt'] });
  });

  it('counts an old file deleted and written again as modified', () => {
    const log = new FileChangeLog(root);
    log.recordDeleted(at('config.json'));
    log.record(at('config.json'), false);
    expect(log.snapshot()).toEqual({ created: [], modified: ['config.json'], deleted: [] });
  });

  it('uses posix separators and refuses paths outside its root', () => {
    const log = new FileChangeLog(root);
    log.record(path.join(root, 'a', 'b', 'c.ts'), false);
    expect(log.snapshot().created).toEqual(['a/b/c.ts']);
    expect(() => log.record(path.resolve('/etc/passwd'), false)).toThrow(/Workspace.resolve/);
  });
});
