import { describe, expect, it } from 'vitest';
import { planByKeywords } from '../../src/planning/keywordPlanner.ts';
import { KEYWORDS } from '../../src/planning/keywords.ts';
import { makeTask } from '../support/fixtures.ts';

describe('planByKeywords on a task that matches nothing', () => {
  it('yields zero steps and a note listing every keyword of every worker', () => {
    const plan = planByKeywords(makeTask('Fix the typos in the README', { requirements: ['Keep the tone friendly'] }));
    expect(plan.steps).toEqual([]);
    expect(plan.notes).toHaveLength(1);
    const note = plan.notes[0] ?? '';
    expect(note).toMatch(/^no worker keyword in the description or requirements/);
    for (const [worker, keywords] of Object.entries(KEYWORDS)) {
      expect(note).toContain(`${worker}: ${keywords.join(', ')}`);
    }
  });
});
