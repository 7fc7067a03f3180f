import { diagrams, MACHINES, mermaidBlock, type MachineName } from '../diagrams/diagram.ts';

export interface DiagramOptions {
  /** One of listener, task, worker; all three when absent. */
  machine?: string;
}

/** Where the command writes; a test passes its own. */
export interface DiagramIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

const isMachineName = (name: string): name is MachineName => Object.hasOwn(MACHINES, name);

/**
 * `backend-orchestrator diagram [machine]`: each machine's statechart as a
 * Markdown heading and a fenced Mermaid block, drawn from the definitions in
 * machines/ (paste it into any Markdown viewer that renders Mermaid).
 * An unknown machine name sets exit code 2 and names the known ones.
 */
export function runDiagram(opts: DiagramOptions, io: DiagramIo = process): void {
  const names = Object.keys(MACHINES) as MachineName[];
  if (opts.machine !== undefined && !isMachineName(opts.machine)) {
    io.stderr.write(`unknown machine "${opts.machine}": choose one of ${names.join(', ')}, or none for all three\n`);
    process.exitCode = 2;
    return;
  }
  const all = diagrams();
  const chosen = opts.machine === undefined ? names : [opts.machine];
  io.stdout.write(`${chosen.map((name) => `## ${name} machine\n\n${mermaidBlock(all[name])}\n`).join('\n')}`);
}
