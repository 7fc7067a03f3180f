import { describe, expect, it } from 'vitest';
import type { LlmPlanner } from '../../src/planning/llmPlanner.ts';
import type { Plan } from '../../src/protocol/plan.ts';
import { planTask } from '../../src/planning/planTask.ts';
import { makeTask } from '../support/fixtures.ts';
import { shape } from './shape.ts';

const registration = makeTask('Create user registration endpoint');
const signal = new AbortController().signal;

function answering(plan: Plan): LlmPlanner {
  return async () => plan;
}

const llmPlan: Plan = {
  source: 'llm',
  steps: [{ worker: 'api-worker', instructions: 'Add the route.', dependsOn: [], critical: true, reason: 'the model said so' }],
  notes: [],
};

describe('planTask', () => {
  it('uses the keyword plan when no LLM planner is configured', async () => {
    const plan = await planTask(registration, { signal });
    expect(plan.source).toBe('keywords');
    expect(Object.keys(shape(plan))).toEqual(['db-worker', 'auth-worker', 'api-worker']);
    expect(plan.notes).toEqual([]);
  });

  it('uses the LLM plan when it is a valid DAG with steps', async () => {
    expect(await planTask(registration, { llm: answering(llmPlan), signal })).toBe(llmPlan);
  });

  it('passes the caller\'s signal to the LLM planner', async () => {
    let seen: AbortSignal | undefined;
    await planTask(registration, { llm: async (_task, s) => ((seen = s), llmPlan), signal });
    expect(seen).toBe(signal);
  });

  it('falls back to keywords with a note when the LLM planner throws', async () => {
    const plan = await planTask(registration, {
      llm: async () => {
        throw new Error('connect ECONNREFUSED 127.0.0.1:1');
      },
      signal,
    });
    expect(plan.source).toBe('keywords');
    expect(plan.steps).toHaveLength(3);
    expect(plan.notes).toEqual(['LLM planner failed (Error: connect ECONNREFUSED 127.0.0.1:1); using the keyword plan']);
  });

  it('falls back when the LLM plan is not a DAG', async () => {
    const cyclic: Plan = {
      source: 'llm',
      steps: [
        { worker: 'api-worker', instructions: 'a', dependsOn: ['auth-worker'], critical: true, reason: 'r' },
        { worker: 'auth-worker', instructions: 'b', dependsOn: ['api-worker'], critical: true, reason: 'r' },
      ],
      notes: [],
    };
    const plan = await planTask(registration, { llm: answering(cyclic), signal });
    expect(plan.source).toBe('keywords');
    expect(plan.notes[0]).toMatch(/^LLM plan is not a valid DAG \(cycle: api-worker → auth-worker → api-worker; .*\); using the keyword plan$/);
  });

  it('falls back when the LLM plan has zero steps although keywords match', async () => {
    const plan = await planTask(registration, { llm: answering({ source: 'llm', steps: [], notes: [] }), signal });
    expect(plan.source).toBe('keywords');
    expect(plan.notes).toEqual([
      'LLM planner returned zero steps although keywords match (db-worker, auth-worker, api-worker); using the keyword plan',
    ]);
  });

  it('keeps zero steps, with both notes, when neither the LLM nor the keywords find work', async () => {
    const plan = await planTask(makeTask('Fix README typos'), { llm: answering({ source: 'llm', steps: [], notes: [] }), signal });
    expect(plan.steps).toEqual([]);
    expect(plan.notes[0]).toBe('LLM planner returned zero steps, and no keyword matches either');
    expect(plan.notes[1]).toMatch(/^no worker keyword/);
  });

  it('rethrows instead of falling back when the signal has fired: the actor is stopping', async () => {
    const controller = new AbortController();
    const aborted = new Error('Request was aborted.');
    const attempt = planTask(registration, {
      llm: async () => {
        controller.abort();
        throw aborted;
      },
      signal: controller.signal,
    });
    await expect(attempt).rejects.toBe(aborted);
  });
});
