import type { AnyStateNode } from 'xstate';
import { setup } from 'xstate';
import { describe, expect, it } from 'vitest';
import { taskMachine } from '../../machines/task.machine.ts';
import { machineSvg } from '../../src/diagrams/machineSvg.ts';

// The console's statechart with the states of the checks (`--verify`):
// verifying after the workers, fixing when a check fails, back to verifying
// after a fix round; each a box the page can light, each transition an edge
// it can draw as taken.

/** The shape the task machine takes with checks: dispatching → verifying ⇄ fixing → aggregating → publishing. */
const withChecks = setup({
  types: { events: {} as { type: 'CHECKS_PASSED' } | { type: 'CHECKS_FAILED' } | { type: 'FIXED' } | { type: 'GIVE_UP' } | { type: 'DONE' } },
  guards: { roundsLeft: () => true },
}).createMachine({
  id: 'task',
  initial: 'dispatching',
  states: {
    dispatching: { on: { DONE: 'verifying' } },
    verifying: { on: { CHECKS_PASSED: 'aggregating', CHECKS_FAILED: [{ guard: 'roundsLeft', target: 'fixing' }, { target: 'aggregating' }] } },
    fixing: { on: { FIXED: 'verifying', GIVE_UP: 'aggregating' } },
    aggregating: { on: { DONE: 'publishing' } },
    publishing: { on: { DONE: 'completed' } },
    completed: { type: 'final' },
  },
});

const box = (svg: string, state: string) => new RegExp(`<g class="state[^"]*" data-state="${state}"><rect x="([\\d.]+)" y="([\\d.]+)"`).exec(svg);
const edge = (svg: string, from: string, to: string) => new RegExp(`<g class="edge" data-from="${from}" data-to="${to}">([\\s\\S]*?)</g>`).exec(svg)?.[1];
const labels = (svg: string, from: string, to: string) => [...(edge(svg, from, to) ?? '').matchAll(/<tspan data-label="([^"]*)"/g)].map((m) => m[1]);

describe('the statechart of a task machine with checks', () => {
  it('draws verifying and fixing as boxes to light, after the workers, with the fix round as an edge back', () => {
    const svg = machineSvg(withChecks);
    const x = (state: string) => Number(box(svg, state)?.[1]);
    for (const state of ['verifying', 'fixing']) expect(box(svg, state), state).not.toBeNull();
    // Left to right as a task goes: the workers, the checks, a fix round, then the result.
    expect(x('dispatching')).toBeLessThan(x('verifying'));
    expect(x('verifying')).toBeLessThan(x('fixing'));
    expect(x('fixing')).toBeLessThan(x('publishing'));
    expect(labels(svg, 'dispatching', 'verifying')).toEqual(['DONE']);
    expect(labels(svg, 'verifying', 'fixing')).toEqual(['CHECKS_FAILED [roundsLeft]']);
    expect(labels(svg, 'verifying', 'aggregating')).toEqual(['CHECKS_PASSED', 'CHECKS_FAILED [else]']);
    expect(labels(svg, 'fixing', 'aggregating')).toEqual(['GIVE_UP']);
    // The fix round goes back to verifying: an edge of its own, curving under the boxes (from a box's bottom).
    const back = edge(svg, 'fixing', 'verifying');
    expect(back).toBeDefined();
    const [, bx, by] = box(svg, 'fixing')!.map(Number);
    const start = /<path d="M([\d.]+),([\d.]+)/.exec(back!)!;
    expect(Number(start[1])).toBeCloseTo(bx! + 62, 1);
    expect(Number(start[2])).toBeCloseTo(by! + 34, 1);
    expect(labels(svg, 'fixing', 'verifying')).toEqual(['FIXED']);
  });

  it('the task machine itself has verifying and fixing, reached from dispatching and left for aggregating', () => {
    const states = Object.keys((taskMachine.root as AnyStateNode).states);
    expect(states).toEqual(expect.arrayContaining(['verifying', 'fixing']));
    const svg = machineSvg(taskMachine);
    for (const state of ['verifying', 'fixing']) expect(box(svg, state), state).not.toBeNull();
    expect(edge(svg, 'dispatching', 'verifying')).toBeDefined();
    expect(edge(svg, 'verifying', 'fixing')).toBeDefined();
    expect(edge(svg, 'fixing', 'verifying')).toBeDefined();
    expect(edge(svg, 'verifying', 'aggregating')).toBeDefined();
  });
});
