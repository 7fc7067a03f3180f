import { describe, expect, it } from 'vitest';
import { taskDirName } from '../../src/workers/taskDirName.ts';

describe('taskDirName', () => {
  it('keeps a UUID as it is', () => {
    expect(taskDirName('4f1c2d3e-0000-4000-8000-000000000001')).toBe('4f1c2d3e-0000-4000-8000-000000000001');
  });

  it('gives ids that once shared a folder (a/b, a_b, a?b, A_b) a folder each', () => {
    const ids = ['a/b', 'a_b', 'a?b', 'A_b', 'a-b', 'a b', '../a', '.', '..', 'a\nb', 'é'];
    const names = ids.map(taskDirName);
    expect(new Set(names).size).toBe(ids.length);
    for (const name of names) {
      expect(name).toMatch(/^[a-z0-9][a-z0-9_-]*(\.[0-9a-f]{16})?$/);
      expect(name).not.toMatch(/^\.\.?$/);
    }
  });

  it('cannot be forged by a plain id that looks like a hashed name', () => {
    const hashed = taskDirName('A');
    expect(hashed).toContain('.');
    // `.` is outside the plain alphabet: the same text as an id is hashed again, elsewhere.
    expect(taskDirName(hashed)).not.toBe(hashed);
  });
});
