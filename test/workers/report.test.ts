import { describe, expect, it } from 'vitest';
import { findJsonObject, parseWorkerReport } from '../../src/workers/report.ts';

describe('parseWorkerReport', () => {
  it('reads a fenced json report and keeps extra fields and the claimed files apart', () => {
    const text = [
      'All done.',
      '```json',
      '{"summary": "User model and migration", "issues": ["no index on email"], "tables": ["users"], "files_created": ["x.js"]}',
      '```',
    ].join('\n');
    expect(parseWorkerReport(text)).toEqual({
      summary: 'User model and migration',
      issues: ['no index on email'],
      report: { tables: ['users'], claimed_files_created: ['x.js'] },
    });
  });

  it('takes the last top-level object when there is no fence, braces in strings included', () => {
    const text = 'Config was {"a": 1}. Report: {"summary": "uses {braces} and \\"quotes\\"", "nested": {"k": 2}}';
    expect(parseWorkerReport(text)).toEqual({ summary: 'uses {braces} and "quotes"', issues: [], report: { nested: { k: 2 } } });
  });

  it('prefers the last fenced block that parses', () => {
    expect(findJsonObject('```json\n{"summary":"first"}\n```\n```json\n{"summary":"second"}\n```')).toEqual({ summary: 'second' });
  });

  it('records an issue and falls back to the first lines when there is no JSON', () => {
    const parsed = parseWorkerReport('Created the user model.\nAlso the migration.\n\nMore text.\nAnd more.');
    expect(parsed.summary).toBe('Created the user model. Also the migration. More text.');
    expect(parsed.issues).toEqual([expect.stringMatching(/^worker's final answer had no JSON report/)]);
  });

  it('records why malformed JSON did not parse', () => {
    const parsed = parseWorkerReport('Done.\n```json\n{"summary": "x", "issues": [}\n```');
    expect(parsed.summary).toBe('Done.');
    expect(parsed.issues).toEqual([expect.stringMatching(/^worker's JSON report did not parse \(.+\)/)]);
  });

  it('records a schema violation and keeps what the model sent in report', () => {
    const parsed = parseWorkerReport('Here.\n```json\n{"summary": 42, "issues": "none"}\n```');
    expect(parsed.summary).toBe('Here.');
    expect(parsed.issues[0]).toMatch(/^worker's JSON report was invalid: .*summary/);
    expect(parsed.report).toEqual({ summary: 42, issues: 'none' });
  });

  it('says so when the answer is empty', () => {
    expect(parseWorkerReport('').summary).toBe('(the worker gave no final answer)');
  });
});
