import type { AnyStateMachine, AnyStateNode } from 'xstate';
import { edgeLabel, transitionLabel } from './transitionLabel.ts';

/**
 * A statechart as an SVG drawn from the machine definition (the same source
 * as `diagram`'s Mermaid), for the console: each top-level state is a box
 * carrying `data-state="<key>"`, each edge `data-from`/`data-to`, and each
 * of its transitions a label `event [guard]` carrying `data-label` (the
 * name a task's state history gives it, src/diagrams/statePath.ts), so the
 * page lights the current state and draws the path taken with classes; no
 * layout library or Mermaid bundle is needed in the browser. Columns are
 * the longest path from the initial state; edges back to an earlier column
 * (retries) curve underneath; edges leaving or entering one side of a box
 * start and end apart, so a fan-out does not draw one thick line.
 */

const BOX_W = 124;
const BOX_H = 34;
const COL_W = 300;
const ROW_H = 54;
const PAD = 28;

interface Edge {
  from: string;
  to: string;
  /** One a transition, `event [guard]`, without repeats. */
  labels: string[];
  titles: string[];
}

const esc = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function edgesOf(root: AnyStateNode): Edge[] {
  const byPair = new Map<string, Edge>();
  for (const node of Object.values(root.states) as AnyStateNode[]) {
    const groups = [...node.transitions.values(), ...(node.always ? [node.always] : [])];
    for (const group of groups) {
      let guarded = false;
      for (const t of group) {
        for (const target of t.target ?? []) {
          // A target inside a nested state is drawn at its top-level ancestor.
          const to = target.path[0];
          if (to === undefined) continue;
          const key = `${node.key}\u0000${to}`;
          const edge = byPair.get(key) ?? { from: node.key, to, labels: [], titles: [] };
          const label = edgeLabel(node, t);
          if (!edge.labels.includes(label)) edge.labels.push(label);
          edge.titles.push(transitionLabel(node, t, guarded));
          byPair.set(key, edge);
        }
        if (t.guard !== undefined) guarded = true;
      }
    }
  }
  return [...byPair.values()];
}

/** Longest path from the initial state over the edges that do not close a cycle. */
function layersOf(keys: string[], initial: string | undefined, edges: Edge[]): Map<string, number> {
  const out = new Map<string, string[]>();
  for (const e of edges) if (e.from !== e.to) out.set(e.from, [...(out.get(e.from) ?? []), e.to]);
  const back = new Set<string>();
  const onStack = new Set<string>();
  const seen = new Set<string>();
  const visit = (k: string) => {
    seen.add(k);
    onStack.add(k);
    for (const to of out.get(k) ?? []) {
      if (onStack.has(to)) back.add(`${k}\u0000${to}`);
      else if (!seen.has(to)) visit(to);
    }
    onStack.delete(k);
  };
  for (const k of [...(initial ? [initial] : []), ...keys]) if (!seen.has(k)) visit(k);
  const layer = new Map(keys.map((k) => [k, 0]));
  // Relax in rounds: as many as there are states is enough for a DAG.
  for (let round = 0; round < keys.length; round++) {
    let changed = false;
    for (const e of edges) {
      if (e.from === e.to || back.has(`${e.from}\u0000${e.to}`)) continue;
      const next = (layer.get(e.from) ?? 0) + 1;
      if (next > (layer.get(e.to) ?? 0)) {
        layer.set(e.to, next);
        changed = true;
      }
    }
    if (!changed) break;
  }
  return layer;
}

/** Beside an arrow head, one transition a line, stacked upwards and ending at the head; on an arc, one line. */
function labelText(at: { x: number; y: number }, labels: string[], atHead: boolean): string {
  const span = (label: string, attrs: string) => `<tspan data-label="${esc(label)}"${attrs}>${esc(label)}</tspan>`;
  if (!atHead) {
    const parts = labels.map((l, i) => (i ? `<tspan class="sep"> · </tspan>` : '') + span(l, ''));
    return `<text x="${at.x.toFixed(1)}" y="${at.y.toFixed(1)}">${parts.join('')}</text>`;
  }
  const lines = labels.map((l, i) => span(l, ` x="${at.x.toFixed(1)}" y="${(at.y - (labels.length - 1 - i) * 12).toFixed(1)}"`));
  return `<text class="at-head">${lines.join('')}</text>`;
}

/** Where the i-th of n edges meets a box side: spread over its middle, 6 px apart. */
const spread = (i: number, n: number): number => (n <= 1 ? 0 : Math.max(-BOX_H / 2 + 4, Math.min(BOX_H / 2 - 4, (i - (n - 1) / 2) * 6)));

export function machineSvg(machine: AnyStateMachine): string {
  const root = machine.root as AnyStateNode;
  const nodes = Object.values(root.states) as AnyStateNode[];
  const keys = nodes.map((n) => n.key);
  const initial = root.initial?.target[0]?.key;
  const edges = edgesOf(root);
  const layer = layersOf(keys, initial, edges);
  const columns: string[][] = [];
  // A state with an edge back to an earlier column goes to the bottom of its own, so that edge curves under the others.
  const loopsBack = (k: string) => edges.some((e) => e.from === k && e.to !== k && (layer.get(e.to) ?? 0) <= (layer.get(k) ?? 0));
  for (const k of [...keys.filter((k) => !loopsBack(k)), ...keys.filter(loopsBack)]) (columns[layer.get(k) ?? 0] ??= []).push(k);
  const tallest = Math.max(...columns.map((c) => c?.length ?? 0));
  const pos = new Map<string, { x: number; y: number }>();
  columns.forEach((column, c) => {
    const offset = ((tallest - column.length) * ROW_H) / 2;
    column.forEach((k, r) => pos.set(k, { x: PAD + c * COL_W, y: PAD + 40 + offset + r * ROW_H }));
  });
  const width = PAD * 2 + (columns.length - 1) * COL_W + BOX_W;
  const height = PAD * 2 + 40 + tallest * ROW_H + 40;

  // Each edge that skips columns gets its own height above the row, shortest lowest, so arcs and labels do not coincide.
  const span = (e: Edge) => (layer.get(e.to) ?? 0) - (layer.get(e.from) ?? 0);
  const arcs = edges.filter((e) => span(e) > 1).sort((a, b) => span(a) - span(b) || (layer.get(a.from) ?? 0) - (layer.get(b.from) ?? 0));
  // Forward edges leaving (entering) each box, ordered by where they go (come from), arcs over the top first.
  const forward = edges.filter((e) => e.from !== e.to && (layer.get(e.to) ?? 0) > (layer.get(e.from) ?? 0));
  const yAt = (e: Edge, end: 'from' | 'to') => (span(e) > 1 ? -1000 - span(e) : (pos.get(end === 'from' ? e.to : e.from)?.y ?? 0));
  const order = (end: 'from' | 'to') => {
    const m = new Map<Edge, { i: number; n: number }>();
    const groups = new Map<string, Edge[]>();
    for (const e of forward) groups.set(e[end], [...(groups.get(e[end]) ?? []), e]);
    for (const group of groups.values()) group.sort((a, b) => yAt(a, end) - yAt(b, end)).forEach((e, i) => m.set(e, { i, n: group.length }));
    return m;
  };
  const leaving = order('from');
  const entering = order('to');
  const parts: string[] = [];
  for (const e of edges) {
    const a = pos.get(e.from);
    const b = pos.get(e.to);
    if (!a || !b || e.from === e.to) continue;
    const la = layer.get(e.from) ?? 0;
    const lb = layer.get(e.to) ?? 0;
    let d: string;
    let label: { x: number; y: number };
    if (lb > la) {
      const out = leaving.get(e) ?? { i: 0, n: 1 };
      const into = entering.get(e) ?? { i: 0, n: 1 };
      const [x1, y1, x2, y2] = [a.x + BOX_W, a.y + BOX_H / 2 + spread(out.i, out.n), b.x, b.y + BOX_H / 2 + spread(into.i, into.n)];
      // Edges that skip columns arc over the boxes in between.
      const lift = lb - la > 1 ? -(34 + 30 * arcs.indexOf(e)) : 0;
      const top = Math.min(y1, y2) + lift;
      d = lift
        ? `M${x1},${y1} C${x1 + 40},${top} ${x2 - 40},${top} ${x2},${y2}`
        : `M${x1},${y1} C${x1 + 60},${y1} ${x2 - 60},${y2} ${x2},${y2}`;
      // Beside the arrow head: labels of a fan-out sit one row apart, as their targets do.
      label = lift ? { x: (x1 + x2) / 2, y: y1 + 0.75 * lift - 5 } : { x: x2 - 6, y: y2 - 5 };
    } else {
      const [x1, y1, x2, y2] = [a.x + BOX_W / 2, a.y + BOX_H, b.x + BOX_W / 2, b.y + BOX_H];
      const bottom = Math.max(y1, y2) + 34;
      d = `M${x1},${y1} C${x1},${bottom} ${x2},${bottom} ${x2},${y2}`;
      label = { x: (x1 + x2) / 2, y: bottom - 2 };
    }
    parts.push(
      `<g class="edge" data-from="${esc(e.from)}" data-to="${esc(e.to)}"><title>${esc(e.titles.join('\n'))}</title>` +
        `<path d="${d}" marker-end="url(#arrow)"/>` +
        labelText(label, e.labels, lb - la === 1) +
        `</g>`,
    );
  }
  if (initial && pos.get(initial)) {
    const p = pos.get(initial)!;
    parts.push(`<circle class="start" cx="${p.x - 14}" cy="${p.y + BOX_H / 2}" r="5"/>`);
  }
  for (const n of nodes) {
    const p = pos.get(n.key)!;
    const final = n.type === 'final';
    parts.push(
      `<g class="state${final ? ' final' : ''}" data-state="${esc(n.key)}">` +
        `<rect x="${p.x}" y="${p.y}" width="${BOX_W}" height="${BOX_H}" rx="9"/>` +
        (final ? `<rect class="inner" x="${p.x + 3}" y="${p.y + 3}" width="${BOX_W - 6}" height="${BOX_H - 6}" rx="7"/>` : '') +
        `<text x="${p.x + BOX_W / 2}" y="${p.y + BOX_H / 2 + 4}">${esc(n.key)}</text></g>`,
    );
  }
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" class="machine" viewBox="0 0 ${width} ${height}" role="img" aria-label="${esc(machine.id)} statechart">` +
    `<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker></defs>` +
    parts.join('') +
    `</svg>`
  );
}
