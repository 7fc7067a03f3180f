import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { and, not, setup, type AnyStateMachine, type AnyStateNode } from 'xstate';
import { PACKAGE_ROOT } from '../../src/config.ts';
import { diagrams, MACHINES, diagramBlock, diagramMarkers, toMermaid, updateDocDiagrams, type MachineName } from '../../src/diagrams/diagram.ts';

const NAMES = Object.keys(MACHINES) as MachineName[];

/** Every state key of a machine, nested ones included. */
function stateKeys(machine: AnyStateMachine): string[] {
  const keys: string[] = [];
  const walk = (node: AnyStateNode) => {
    for (const child of Object.values(node.states) as AnyStateNode[]) {
      keys.push(child.key);
      walk(child);
    }
  };
  walk(machine.root as AnyStateNode);
  return keys;
}

describe('diagrams of the machines', () => {
  const all = diagrams();

  it.each(NAMES)('%s: a stateDiagram-v2 naming every state of the definition', (name) => {
    const lines = all[name].split('\n');
    expect(lines[0]).toBe('stateDiagram-v2');
    for (const key of stateKeys(MACHINES[name])) {
      // A nested state is declared by its key in quotes (`state "working" as running_working`).
      expect(lines.some((l) => new RegExp(`(^|[\\s"])${key}([ "]|$)`).test(l.trim())), `state ${key}`).toBe(true);
    }
  });

  it('holds the states ARCHITECTURE.md names', () => {
    for (const s of ['connecting', 'listening', 'saturated', 'draining', 'stopped']) expect(all.listener).toMatch(new RegExp(`\\b${s}\\b`));
    for (const s of ['received', 'analyzing', 'dispatching', 'aggregating', 'publishing', 'completed', 'partial', 'failed']) {
      expect(all.task).toMatch(new RegExp(`\\b${s}\\b`));
    }
    for (const s of ['running', 'retrying', 'succeeded', 'failed']) expect(all.worker).toMatch(new RegExp(`\\b${s}\\b`));
  });

  it('draws the key transitions of the task', () => {
    const lines = all.task.split('\n').map((l) => l.trim());
    expect(lines).toContain('[*] --> received');
    expect(lines).toContain('received --> analyzing : always [isValid]');
    expect(lines).toContain('analyzing --> dispatching : done(planner) [else]');
    expect(lines).toContain('analyzing --> aggregating : error(planner)');
    expect(lines).toContain('analyzing --> aggregating : after(untilDeadline)');
    expect(lines).toContain('dispatching --> aggregating : always [allSettled]');
    expect(lines).toContain('dispatching : entry / launchReady');
    expect(lines).toContain('publishing --> completed : done(publisher) [succeeded]');
    for (const final of ['completed', 'partial', 'failed']) expect(lines).toContain(`${final} --> [*]`);
  });

  it('draws the key transitions of the worker and the listener', () => {
    const worker = all.worker.split('\n').map((l) => l.trim());
    expect(worker).toContain('[*] --> running');
    expect(worker).toContain('running --> retrying : error(agent) [canRetry] / recordError');
    expect(worker).toContain('retrying --> running : after(backoff)');
    expect(worker).toContain('succeeded --> [*]');
    const listener = all.listener.split('\n').map((l) => l.trim());
    expect(listener).toContain('[*] --> connecting');
    expect(listener).toContain('listening --> saturated : done(claim) [fullAfterClaim] / spawnTasks');
    expect(listener).toContain('stopped --> [*]');
    // An invoke without an id is named by its src, not `0.listener.listening`.
    expect(all.listener).not.toMatch(/\d+\.listener\./);
  });

  it('is deterministic', () => {
    expect(diagrams()).toEqual(all);
  });

  it('keeps labels within what Mermaid parses: one colon, no ; or #', () => {
    for (const name of NAMES) {
      for (const line of all[name].split('\n').slice(1)) {
        const label = line.split(' : ')[1];
        if (label !== undefined) expect(label, line).not.toMatch(/[:;#]/);
      }
    }
  });
});

describe('toMermaid on other shapes', () => {
  const machine = setup({ guards: { ready: () => true, blocked: () => false }, actions: { noted: () => undefined } }).createMachine({
    id: 'shapes',
    initial: 'outer',
    on: { RESET: '.outer' },
    states: {
      outer: {
        initial: 'inner',
        onDone: 'both',
        on: { SKIP: { target: '.last', guard: and(['ready', not('blocked')]) } },
        states: { inner: { after: { 250: 'last' }, on: { '*': { guard: 'ready', actions: 'noted' } } }, last: { type: 'final' } },
      },
      default: {},
      both: { type: 'parallel', states: { a: { initial: 'a1', states: { a1: {} } }, b: { initial: 'b1', states: { b1: {} } } } },
    },
  });

  it('draws nesting, parallel regions, composite guards, delays, wildcards and machine-wide handlers', () => {
    expect(toMermaid(machine)).toBe(
      [
        'stateDiagram-v2',
        '  [*] --> outer',
        '  state "outer" as outer {',
        '    [*] --> outer_inner',
        '    state "inner" as outer_inner',
        '    outer_inner : any event [ready] / noted (stays)',
        '    state "last" as outer_last',
        '    outer_last --> [*]',
        '  }',
        '  state "default" as s_default',
        '  state "both" as both {',
        '    state "a" as both_a {',
        '      [*] --> both_a_a1',
        '      state "a1" as both_a_a1',
        '    }',
        '    --',
        '    state "b" as both_b {',
        '      [*] --> both_b_b1',
        '      state "b1" as both_b_b1',
        '    }',
        '  }',
        '  outer --> outer_last : SKIP [and(ready, not(blocked))]',
        '  outer --> both : done',
        '  outer_inner --> outer_last : after(250 ms)',
        '  note right of outer',
        '    in every state',
        '    RESET → outer',
        '  end note',
      ].join('\n'),
    );
  });
});

describe('the diagrams in docs/design.md', () => {
  const text = (name: MachineName, body: string) => {
    const { open, close } = diagramMarkers(name);
    return `${open}${body}${close}`;
  };

  it('updateDocDiagrams fills every marker pair and keeps the rest', () => {
    const doc = `# Title\n\n${text('listener', '\nold\n')}\n\ntext between\n\n${text('task', '')}\n${text('worker', 'x')}\nend\n`;
    const updated = updateDocDiagrams(doc);
    expect(updated.startsWith('# Title\n\n<!-- diagram:listener -->\n```mermaid\nstateDiagram-v2\n')).toBe(true);
    expect(updated).toContain('\n```\n<!-- /diagram:listener -->\n\ntext between\n\n');
    for (const name of NAMES) expect(updated).toContain(text(name, diagramBlock(name)));
    expect(updated).not.toContain('old');
    expect(updated.endsWith('<!-- /diagram:worker -->\nend\n')).toBe(true);
    expect(updateDocDiagrams(updated)).toBe(updated);
  });

  it('updateDocDiagrams names the marker lines that are missing', () => {
    expect(() => updateDocDiagrams(`# Title\n${text('task', '')}\n`)).toThrow(
      'docs/design.md has no diagram markers for: <!-- diagram:listener --> ... <!-- /diagram:listener -->, <!-- diagram:worker --> ... <!-- /diagram:worker -->',
    );
  });

  // Drift: docs/design.md shows what the machines are. If this fails, regenerate:
  // node --import tsx -e "import('./src/diagrams/diagram.ts').then(async (m) => { const fs = await import('node:fs'); fs.writeFileSync('docs/design.md', m.updateDocDiagrams(fs.readFileSync('docs/design.md', 'utf8'))); })"
  it.each(NAMES)('docs/design.md shows the current %s diagram between its markers', (name) => {
    const path = resolve(PACKAGE_ROOT, 'docs', 'design.md');
    expect(existsSync(path), 'docs/design.md is missing').toBe(true);
    const doc = readFileSync(path, 'utf8');
    const { open, close } = diagramMarkers(name);
    const start = doc.indexOf(open);
    const end = doc.indexOf(close, start + 1);
    expect(start, `docs/design.md has no ${open} line`).toBeGreaterThanOrEqual(0);
    expect(end, `docs/design.md has no ${close} line after ${open}`).toBeGreaterThan(start);
    expect(doc.slice(start + open.length, end), `the ${name} diagram in docs/design.md is stale: regenerate it (see this test)`).toBe(diagramBlock(name));
  });
});
