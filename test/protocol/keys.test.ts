import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { keysFor, type Keys } from '../../src/protocol/keys.ts';

const root = path.resolve(import.meta.dirname, '../..');

/**
 * The key layout is a wire format: peers read the first group, running
 * deployments hold data under the rest. Every string is pinned here, so a
 * change of layout shows up as a failing line, not as a silent migration.
 */
describe('keysFor', () => {
  const keys = keysFor('backend');

  it('names every key, channel and pattern as the network and existing deployments know them', () => {
    // Typed by Keys' members: a key added to Keys and not pinned here fails tsc.
    const named: Record<keyof Keys, unknown> = {
      pending: keys.pending,
      active: keys.active,
      notifications: keys.notifications,
      result: keys.result('T-1'),
      resultLogs: keys.resultLogs('T-1'),
      resultChannel: keys.resultChannel('T-1'),
      resultsPattern: keys.resultsPattern,
      resultsStartingWith: [keys.resultsStartingWith('6a52'), keys.resultsStartingWith('a*b?[c]\\')],
      checkpointsStartingWith: keys.checkpointsStartingWith('6a52'),
      taskKeyOfCheckpoint: [keys.taskKeyOfCheckpoint('orch:backend:task:T-1'), keys.taskKeyOfCheckpoint('results:T-1')],
      taskIdOfResult: [keys.taskIdOfResult('results:T-1'), keys.taskIdOfResult('orch:backend:control')],
      agentsAll: keys.agentsAll,
      agentsDomains: keys.agentsDomains,
      agentsOfDomain: keys.agentsOfDomain,
      agentInfo: keys.agentInfo('backend-orch-1'),
      agentHeartbeat: keys.agentHeartbeat('backend-orch-1'),
      agentsPattern: keys.agentsPattern,
      deadLetters: keys.deadLetters,
      checkpoint: keys.checkpoint('T-1'),
      fence: keys.fence,
      prompts: keys.prompts('T-1'),
      recentFailures: keys.recentFailures,
      control: keys.control,
      tasksFinished: keys.tasksFinished('completed'),
      tasksInfo: keys.tasksInfo,
      modelLeases: keys.modelLeases,
      modelBreaker: keys.modelBreaker,
      modelTokens: keys.modelTokens,
      modelReleases: keys.modelReleases,
      modelWaiting: keys.modelWaiting,
      modelWakePrefix: keys.modelWakePrefix,
      modelWake: keys.modelWake('gate-1'),
      modelWakePattern: keys.modelWakePattern,
      mergeLock: keys.mergeLock('0123456789abcdef'),
      projectLock: keys.projectLock('0123456789abcdef'),
      mergedBranches: keys.mergedBranches,
      spend: keys.spend,
      own: keys.own,
      ownPattern: keys.ownPattern,
    };
    expect(named).toEqual({
      pending: 'tasks:pending:backend',
      active: 'tasks:active:backend',
      notifications: 'notifications:backend',
      result: 'results:T-1',
      resultLogs: 'results:T-1:logs',
      resultChannel: 'results:T-1',
      resultsPattern: 'results:*',
      resultsStartingWith: ['results:6a52*', 'results:a\\*b\\?\\[c\\]\\\\*'],
      checkpointsStartingWith: 'orch:backend:task:6a52*',
      taskKeyOfCheckpoint: ['T-1', undefined],
      taskIdOfResult: ['T-1', undefined],
      agentsAll: 'agents:all',
      agentsDomains: 'agents:domains',
      agentsOfDomain: 'agents:domains:backend',
      agentInfo: 'agents:info:backend-orch-1',
      agentHeartbeat: 'agents:heartbeat:backend-orch-1',
      agentsPattern: 'agents:*',
      deadLetters: 'orch:backend:dead-letters',
      checkpoint: 'orch:backend:task:T-1',
      fence: 'orch:backend:fence',
      prompts: 'orch:backend:prompts:T-1',
      recentFailures: 'orch:backend:recent-failures',
      control: 'orch:backend:control',
      tasksFinished: 'orch:backend:tasks:completed',
      tasksInfo: 'orch:backend:tasks:info',
      modelLeases: 'orch:backend:model:leases',
      modelBreaker: 'orch:backend:model:breaker',
      modelTokens: 'orch:backend:model:tokens',
      modelReleases: 'orch:backend:model:releases',
      modelWaiting: 'orch:backend:model:leases:waiting',
      modelWakePrefix: 'orch:backend:model:releases:',
      modelWake: 'orch:backend:model:releases:gate-1',
      modelWakePattern: 'orch:backend:model:releases:*',
      mergeLock: 'orch:backend:merge-lock:0123456789abcdef',
      projectLock: 'orch:backend:project-lock:0123456789abcdef',
      mergedBranches: 'orch:backend:merged-branches',
      spend: 'orch:backend:spend',
      own: 'orch:backend:',
      ownPattern: 'orch:backend:*',
    });
  });

  it('has every key of ours in the table of docs/operations.md', () => {
    const doc = readFileSync(path.join(root, 'docs', 'operations.md'), 'utf8');
    const k = keysFor('{domain}');
    const ours = [k.deadLetters, k.checkpoint('{task_id}'), k.fence, k.prompts('{task_id}'), k.recentFailures, k.control, k.modelLeases, k.modelBreaker,
      k.modelTokens, k.modelReleases, k.modelWaiting, k.modelWake('{gate id}'), k.mergeLock('{project hash}'), k.projectLock('{project hash}'), k.mergedBranches, k.spend];
    expect(ours.filter((key) => !doc.includes(`| \`${key}\` |`))).toEqual([]);
  });

  it('keeps every channel a wake-up script builds from the prefix equal to the one the gate subscribes to', () => {
    expect(keys.modelWakePrefix + 'gate-1').toBe(keys.modelWake('gate-1'));
  });
});

const sources = readdirSync(path.join(root, 'src'), { withFileTypes: true, recursive: true })
  .filter((e) => e.isFile() && e.name.endsWith('.ts'))
  .map((e) => path.relative(root, path.join(e.parentPath, e.name)))
  .filter((file) => file !== 'src/protocol/keys.ts');

/** The text of a key of the network or of ours: `orch:`, `results:`, `tasks:`, `agents:` (not as the end of a longer word). */
const KEY_TEXT = /(?<![\w-])(orch|results|tasks|agents):/;

interface Found {
  where: string;
  text: string;
}

/**
 * What a file spells that only src/protocol/keys.ts may: string and
 * template literals holding a key's text, and a key suffixed in a template
 * (`${keys.x}:more`, a key built from a key). Comments are not looked at: the
 * parser skips them.
 */
function keysBuiltIn(file: string): Found[] {
  const text = readFileSync(path.join(root, file), 'utf8');
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: Found[] = [];
  const at = (node: ts.Node) => `${file}:${source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1}`;
  const visit = (node: ts.Node): void => {
    if (ts.isStringLiteralLike(node) || ts.isTemplateLiteralToken(node)) {
      if (KEY_TEXT.test(node.text)) found.push({ where: at(node), text: node.text });
    }
    if (ts.isTemplateExpression(node)) {
      for (const span of node.templateSpans) {
        // A key (keys.x, o.keys.x, keys.x(id)) with more of a name glued on (`:x`, `*`, `-x`) is a key
        // built from a key; a key followed by a space or a stop is a message naming it.
        const expression = span.expression.getText(source);
        if (/\bkeys\.\w+(\(.*\))?$/.test(expression) && /^[\w:*-]/.test(span.literal.text)) found.push({ where: at(span), text: `\${${expression}}${span.literal.text}` });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe('Redis keys are built only in src/protocol/keys.ts', () => {
  it('finds no key text or key built from a key anywhere else in src/', () => {
    expect(sources.length).toBeGreaterThan(50);
    expect(sources.flatMap(keysBuiltIn)).toEqual([]);
  });

  it('sees the kinds of key building it forbids', () => {
    const probe = path.join('test', 'protocol', 'fixtures', 'builtKeys.ts.txt');
    expect(keysBuiltIn(probe).map((f) => f.text)).toEqual([
      'results:',
      'orch:',
      'tasks:active:',
      '${keys.modelLeases}:waiting',
      '${o.keys.result(id)}:logs',
    ]);
  });
});
