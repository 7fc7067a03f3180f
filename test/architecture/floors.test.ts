import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * The layout as floors, ground first: a room imports only rooms on lower
 * floors (rooms sharing a floor do not import each other). A room is a
 * folder of src/ (or a file directly in it), or machines/. Moving a room,
 * or adding one, starts here.
 */
const FLOORS: string[][] = [
  ['protocol', 'errors', 'secrets', 'optionDefaults'], // the wire contract, the error base, what every floor may know
  ['logger'],
  ['models'], // what talks to a model (the API, the scripted stand-in)
  ['redis'], // Redis primitives and scripts
  ['observability'], // spans, metrics, the health and inspector servers
  ['workers'], // one worker's run: agent files, tools, the box
  ['planning'], // which workers, what each is asked, in what order
  ['limits'], // the model gate, budgets, prices
  ['results'], // merging worker outputs into one result
  ['git'], // git primitives
  ['config'], // the options, validated
  ['project'], // the shared project and its git policy
  ['machines'], // the statecharts, pure
  ['diagrams', 'client'], // drawings of the machines; the network's client side
  ['runtime'], // the composition root and the machines' actors
  ['console'],
  ['cli'],
];

const root = path.resolve(import.meta.dirname, '../..');
const sources = (dir: string): string[] =>
  readdirSync(path.join(root, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.(ts|mjs)$/.test(e.name))
    .map((e) => path.relative(root, path.join(e.parentPath, e.name)));

const files = [...sources('src'), ...sources('machines')];

const roomOf = (file: string): string => {
  const parts = file.split('/');
  if (parts[0] === 'machines') return 'machines';
  return parts.length > 2 ? parts[1]! : parts[1]!.replace(/\.ts$/, '');
};

/** Relative imports of a file (static, dynamic and re-exports), resolved to repository paths. */
const importsOf = (file: string): string[] =>
  ts
    .preProcessFile(readFileSync(path.join(root, file), 'utf8'), true, true)
    .importedFiles.map((i) => i.fileName)
    .filter((spec) => spec.startsWith('.'))
    .map((spec) => path.normalize(path.join(path.dirname(file), spec)))
    .filter((target) => files.includes(target));

const floorOf = new Map(FLOORS.flatMap((rooms, floor) => rooms.map((room) => [room, floor] as const)));
const graph = new Map(files.map((f) => [f, importsOf(f)]));

describe('the layout', () => {
  it('places every room of src/ and machines/ on a floor', () => {
    const unplaced = [...new Set(files.map(roomOf))].filter((room) => !floorOf.has(room));
    expect(unplaced, 'a new room: give it a floor in FLOORS').toEqual([]);
  });

  it('has no import running up the floors', () => {
    const up: string[] = [];
    for (const [file, targets] of graph) {
      for (const target of targets) {
        const [from, to] = [roomOf(file), roomOf(target)];
        if (from !== to && floorOf.get(to)! >= floorOf.get(from)!) up.push(`${file} -> ${target} (${from} is on floor ${floorOf.get(from)}, ${to} on ${floorOf.get(to)})`);
      }
    }
    expect(up).toEqual([]);
  });

  it('has no circle of imports between files', () => {
    const circles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (file: string, trail: string[]): void => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'open') {
        circles.push([...trail.slice(trail.indexOf(file)), file].join(' -> '));
        return;
      }
      state.set(file, 'open');
      for (const next of graph.get(file) ?? []) visit(next, [...trail, file]);
      state.set(file, 'done');
    };
    for (const file of files) visit(file, []);
    expect(circles).toEqual([]);
  });

  it('reads imports the way the floors rule needs (a check of the check)', () => {
    // The rule is only as good as the import reader: these imports exist today.
    expect(graph.get('src/runtime/runtimeMachine.ts')).toContain('machines/listener.machine.ts');
    expect(graph.get('src/cli/main.ts')?.length).toBeGreaterThan(0);
    expect(roomOf('src/workers/sandbox/sandbox.ts')).toBe('workers');
  });
});
