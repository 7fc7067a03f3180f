import { describe, expect, it } from 'vitest';
import { taskDirName } from '../../src/workers/taskDirName.ts';
import { gitIn } from '../support/project.ts';

describe('taskDirName', () => {
  it('gives ids that slug alike different names, stable per id', () => {
    const ids = ['a/b', 'a_b', 'a b', 'a\\b', '../a_b', '.a_b', '-a_b'];
    const names = ids.map(taskDirName);
    expect(new Set(names).size).toBe(ids.length);
    expect(taskDirName('a/b')).toBe(names[0]);
  });

  it('makes folder names and valid git branch names of hostile ids', () => {
    for (const id of ['..', '.', '', 'x'.repeat(500), 'a..b', 'ref.lock', '@{-1}', 'a~1^2:b?*[', '日本語', 'end.', 'end/']) {
      const name = taskDirName(id);
      expect(name).toMatch(/^[a-z0-9][a-z0-9-]*\.[0-9a-f]{16}$/);
      expect(name.length).toBeLessThanOrEqual(57);
      expect(gitIn(process.cwd(), 'check-ref-format', `refs/heads/backend/${name}`)).toBe('');
    }
  });
});
