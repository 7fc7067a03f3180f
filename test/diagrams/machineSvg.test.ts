import type { AnyStateNode } from 'xstate';
import { describe, expect, it } from 'vitest';
import { taskMachine } from '../../machines/task.machine.ts';
import { workerMachine } from '../../machines/worker.machine.ts';
import { machineSvg } from '../../src/diagrams/machineSvg.ts';
import { edgeLabel } from '../../src/diagrams/transitionLabel.ts';

const labelsOf = (svg: string, from: string, to: string): string[] => {
  const edge = new RegExp(`<g class="edge" data-from="${from}" data-to="${to}">([\\s\\S]*?)</g>`).exec(svg)?.[1] ?? '';
  return [...edge.matchAll(/<tspan data-label="([^"]*)"/g)].map((m) => m[1]!.replace(/&#39;/g, "'").replace(/&quot;/g, '"'));
};

describe('the console statechart', () => {
  it('writes every transition on its edge as event [guard], the fallback as [else]', () => {
    for (const machine of [taskMachine, workerMachine]) {
      const svg = machineSvg(machine);
      for (const node of Object.values((machine.root as AnyStateNode).states) as AnyStateNode[]) {
        for (const t of [...[...node.transitions.values()].flat(), ...(node.always ?? [])]) {
          for (const target of t.target ?? []) {
            if (target.path[0] === node.key) continue;
            expect(labelsOf(svg, node.key, target.path[0]!), `${node.key} → ${target.path[0]}`).toContain(edgeLabel(node, t));
          }
        }
      }
    }
    const svg = machineSvg(taskMachine);
    expect(labelsOf(svg, 'received', 'aggregating')).toEqual(['always [tooManyTakeovers]', 'always [cancelledWhileHeld]', 'always [else]']);
    expect(labelsOf(svg, 'publishing', 'completed')).toEqual(['done(publisher) [succeeded]']);
    expect(labelsOf(svg, 'publishing', 'failed')).toEqual(['done(publisher) [else]']);
  });

  it("starts the edges of a fan-out apart: the publisher's edges do not leave its box as one line", () => {
    const svg = machineSvg(taskMachine);
    const starts = [...svg.matchAll(/<g class="edge" data-from="publishing" data-to="[^"]+">[\s\S]*?<path d="M([\d.]+),([\d.]+)/g)].map((m) => `${m[1]},${m[2]}`);
    expect(starts.length).toBeGreaterThanOrEqual(6);
    expect(new Set(starts).size).toBe(starts.length);
  });
});
