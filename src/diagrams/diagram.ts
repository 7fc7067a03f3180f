import type { AnyStateMachine, AnyStateNode, AnyTransitionDefinition } from 'xstate';
import { listenerMachine } from '../../machines/listener.machine.ts';
import { taskMachine } from '../../machines/task.machine.ts';
import { workerMachine } from '../../machines/worker.machine.ts';
import { actionNames, isGeneratedInvokeId, mermaidText, transitionLabel } from './transitionLabel.ts';

/**
 * Mermaid diagrams drawn from the machine definitions themselves, so the
 * picture in docs/design.md cannot drift from the code without a test failing.
 */

export type MachineName = 'listener' | 'task' | 'worker';

export const MACHINES: Record<MachineName, AnyStateMachine> = {
  listener: listenerMachine,
  task: taskMachine,
  worker: workerMachine,
};

/** Keywords Mermaid's state lexer matches before an id (case-insensitive; `default` even as a prefix). */
const RESERVED = /^(?:default.*|state|note|class|classdef|scale|direction|end|as)$/i;

/** Top-level states keep their key; nested ones are made unique from their path. */
function mermaidId(node: AnyStateNode): string {
  const id = node.path.join('_').replace(/[^A-Za-z0-9_]/g, '_');
  return RESERVED.test(id) ? `s_${id}` : id;
}

/** `invokes planTask as planner` when the invoke's id (which names its done/error events) differs from its src. */
function invokeLabel(invoke: AnyStateNode['invoke'][number], node: AnyStateNode): string {
  const src = typeof invoke.src === 'string' ? invoke.src : 'inline actor';
  const named = !isGeneratedInvokeId(node, invoke.id) && invoke.id !== src;
  return mermaidText(`invokes ${src}${named ? ` as ${invoke.id}` : ''}`);
}

/** Named entry actions (`launchReady` spawns the workers); inline ones are left out like on transitions. */
function entryLabel(node: AnyStateNode): string | undefined {
  const names = actionNames(node.entry);
  return names.length ? mermaidText(`entry / ${names.join(', ')}`) : undefined;
}

const isNested = (node: AnyStateNode): boolean => node.path.length > 1;

/** Every transition of a node in definition order: events first, then `always`. */
function transitionsOf(node: AnyStateNode): { t: AnyTransitionDefinition; label: string }[] {
  const out: { t: AnyTransitionDefinition; label: string }[] = [];
  const groups = [...node.transitions.values(), ...(node.always ? [node.always] : [])];
  for (const group of groups) {
    let guarded = false;
    for (const t of group) {
      out.push({ t, label: transitionLabel(node, t, guarded) });
      if (t.guard !== undefined) guarded = true;
    }
  }
  return out;
}

/** States, their nesting, initial and final markers, and handlers that change no state. */
function renderStructure(node: AnyStateNode, indent: string, lines: string[]): void {
  const children = Object.values(node.states) as AnyStateNode[];
  if (node.type === 'compound') {
    for (const target of node.initial.target) lines.push(`${indent}[*] --> ${mermaidId(target)}`);
  }
  children.forEach((child, i) => {
    const id = mermaidId(child);
    if (node.type === 'parallel' && i > 0) lines.push(`${indent}--`);
    if (child.type === 'compound' || child.type === 'parallel') {
      lines.push(`${indent}state "${child.key}" as ${id} {`);
      renderStructure(child, `${indent}  `, lines);
      lines.push(`${indent}}`);
    }
    const notes = [
      entryLabel(child),
      ...child.invoke.map((invoke) => invokeLabel(invoke, child)),
      ...transitionsOf(child).flatMap(({ t, label }) => (t.target?.length ? [] : [`${label} (stays)`])),
    ].filter((n): n is string => n !== undefined);
    // Declared first, Mermaid keeps the name as the box title; otherwise the first description replaces it.
    const simple = child.type !== 'compound' && child.type !== 'parallel';
    if (simple && (notes.length || isNested(child) || id !== child.key)) lines.push(`${indent}state "${child.key}" as ${id}`);
    for (const note of notes) lines.push(`${indent}${id} : ${note}`);
    if (child.type === 'final') lines.push(`${indent}${id} --> [*]`);
  });
}

/** Edges go at top level: Mermaid moves a state into the block where an edge first names it. */
function renderEdges(node: AnyStateNode, lines: string[]): void {
  for (const child of Object.values(node.states) as AnyStateNode[]) {
    for (const { t, label } of transitionsOf(child)) {
      for (const target of t.target ?? []) lines.push(`  ${mermaidId(child)} --> ${mermaidId(target)} : ${label}`);
    }
    renderEdges(child, lines);
  }
}

/** Handlers on the machine itself apply in every state; Mermaid has no box for them, so a note. */
function renderRootHandlers(root: AnyStateNode, lines: string[]): void {
  const handlers = transitionsOf(root).map(({ t, label }) =>
    t.target?.length ? `${label} → ${t.target.map((s) => mermaidId(s)).join(', ')}` : label,
  );
  const anchor = root.initial?.target[0];
  if (!handlers.length || !anchor) return;
  lines.push(`  note right of ${mermaidId(anchor)}`, '    in every state', ...handlers.map((h) => `    ${h}`), '  end note');
}

/**
 * A Mermaid `stateDiagram-v2` of a machine's definition: initial state,
 * every transition as `event [guard] / actions` (invoke results as
 * `done(<actor>)` / `error(<actor>)`, timers as `after(<delay>)`, eventless
 * ones as `always`), named entry actions, invoked actors and handlers that
 * stay in their state inside the state box,
 * final states to `[*]`. Same machine, same text.
 *
 * @example
 * toMermaid(workerMachine).split('\n')[0] // 'stateDiagram-v2'
 */
export function toMermaid(machine: AnyStateMachine): string {
  const root = machine.root as AnyStateNode;
  const lines = ['stateDiagram-v2'];
  renderStructure(root, '  ', lines);
  renderEdges(root, lines);
  renderRootHandlers(root, lines);
  return lines.join('\n');
}

/** The diagrams of the three machines in machines/. */
export function diagrams(): Record<MachineName, string> {
  return { listener: toMermaid(listenerMachine), task: toMermaid(taskMachine), worker: toMermaid(workerMachine) };
}

/** The fenced block docs/design.md and the `diagram` command show. */
export const mermaidBlock = (diagram: string): string => `\`\`\`mermaid\n${diagram}\n\`\`\``;

export const diagramMarkers = (name: MachineName): { open: string; close: string } => ({
  open: `<!-- diagram:${name} -->`,
  close: `<!-- /diagram:${name} -->`,
});

/** What sits between a machine's markers in docs/design.md: the fenced diagram on its own lines. */
export const diagramBlock = (name: MachineName, all = diagrams()): string => `\n${mermaidBlock(all[name])}\n`;

/**
 * Replaces what sits between each `<!-- diagram:NAME -->` and
 * `<!-- /diagram:NAME -->` pair with the current diagram of that machine.
 * Throws, naming the marker lines to add, when a pair is missing.
 *
 * @example
 * // node --import tsx -e "import('./src/diagrams/diagram.ts').then(async (m) => { const fs = await import('node:fs'); fs.writeFileSync('docs/design.md', m.updateDocDiagrams(fs.readFileSync('docs/design.md', 'utf8'))); })"
 */
export function updateDocDiagrams(docText: string): string {
  const all = diagrams();
  let text = docText;
  const missing: string[] = [];
  for (const name of Object.keys(MACHINES) as MachineName[]) {
    const { open, close } = diagramMarkers(name);
    const start = text.indexOf(open);
    const end = start === -1 ? -1 : text.indexOf(close, start + open.length);
    if (start === -1 || end === -1) {
      missing.push(`${open} ... ${close}`);
      continue;
    }
    text = text.slice(0, start + open.length) + diagramBlock(name, all) + text.slice(end);
  }
  if (missing.length) {
    throw new Error(`docs/design.md has no diagram markers for: ${missing.join(', ')}. Add each pair, on lines of their own, where that diagram belongs.`);
  }
  return text;
}
