import { afterEach, describe, expect, it } from 'vitest';
import { runDiagram } from '../../src/cli/diagram.ts';
import { diagrams, mermaidBlock } from '../../src/diagrams/diagram.ts';

function io() {
  const out = { stdout: '', stderr: '' };
  return {
    out,
    io: { stdout: { write: (t: string) => (out.stdout += t) }, stderr: { write: (t: string) => (out.stderr += t) } },
  };
}

const exitCode = process.exitCode;
afterEach(() => {
  process.exitCode = exitCode;
});

describe('runDiagram', () => {
  it('prints the three machines, each under a heading in a mermaid block', () => {
    const { out, io: streams } = io();
    runDiagram({}, streams);
    const all = diagrams();
    expect(out.stdout).toBe(
      `## listener machine\n\n${mermaidBlock(all.listener)}\n\n## task machine\n\n${mermaidBlock(all.task)}\n\n## worker machine\n\n${mermaidBlock(all.worker)}\n`,
    );
    expect(out.stderr).toBe('');
  });

  it('prints one machine when asked', () => {
    const { out, io: streams } = io();
    runDiagram({ machine: 'worker' }, streams);
    expect(out.stdout).toBe(`## worker machine\n\n${mermaidBlock(diagrams().worker)}\n`);
  });

  it('names the known machines and exits 2 for an unknown one', () => {
    const { out, io: streams } = io();
    runDiagram({ machine: 'toString' }, streams);
    expect(out.stdout).toBe('');
    expect(out.stderr).toBe('unknown machine "toString": choose one of listener, task, worker, or none for all three\n');
    expect(process.exitCode).toBe(2);
  });
});
