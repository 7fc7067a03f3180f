import { z } from 'zod';

/** The JSON a worker ends its final answer with; extra fields (endpoints, tables) are kept in `report`. */
export const WorkerReportSchema = z.looseObject({
  summary: z.string().trim().min(1, 'summary must be a non-empty string'),
  issues: z.array(z.string()).optional(),
  files_created: z.array(z.string()).optional(),
  files_modified: z.array(z.string()).optional(),
});

export interface ParsedReport {
  summary: string;
  issues: string[];
  /** Extra fields of the model's JSON; its own file lists as `claimed_files_created` / `claimed_files_modified`. */
  report: Record<string, unknown>;
}

const FENCED = /```(?:json)?[ \t]*\r?\n([\s\S]*?)```/gi;
const SUMMARY_FALLBACK_CHARS = 400;

/** End index (inclusive) of the balanced object opening at `start`, skipping braces inside strings. */
function objectEnd(text: string, start: number): number | undefined {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return i;
  }
  return undefined;
}

function parseObject(candidate: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(candidate);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The last ```json block that parses as an object, else the last top-level {...} in the text that does. */
export function findJsonObject(text: string): Record<string, unknown> | undefined {
  const fenced = [...text.matchAll(FENCED)].map((m) => parseObject((m[1] ?? '').trim())).filter((o) => o !== undefined);
  if (fenced.length > 0) return fenced.at(-1);
  let found: Record<string, unknown> | undefined;
  for (let i = text.indexOf('{'); i !== -1; i = text.indexOf('{', i + 1)) {
    const end = objectEnd(text, i);
    if (end === undefined) continue;
    const parsed = parseObject(text.slice(i, end + 1));
    if (parsed !== undefined) {
      found = parsed;
      i = end; // skip the objects nested in this one
    }
  }
  return found;
}

/** Why the last fenced block is not JSON, for the issue that says so. */
function fencedSyntaxError(text: string): string | undefined {
  const last = [...text.matchAll(FENCED)].at(-1);
  if (last === undefined) return undefined;
  try {
    JSON.parse((last[1] ?? '').trim());
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

function leadingText(text: string): string {
  const prose = text.replace(FENCED, '').trim();
  const lines = prose.split('\n').map((l) => l.trim()).filter((l) => l !== '').slice(0, 3).join(' ');
  if (lines === '') return '(the worker gave no final answer)';
  return lines.length > SUMMARY_FALLBACK_CHARS ? `${lines.slice(0, SUMMARY_FALLBACK_CHARS)}…` : lines;
}

/**
 * Reads the worker's final answer. A missing or invalid JSON report is not
 * a failure of the run (the files are on disk and recorded): it becomes an
 * issue, and the summary falls back to the answer's first lines.
 *
 * @example
 * parseWorkerReport('Done.\n```json\n{"summary":"User model","issues":[]}\n```');
 * // { summary: 'User model', issues: [], report: {} }
 */
export function parseWorkerReport(text: string): ParsedReport {
  const json = findJsonObject(text);
  if (json === undefined) {
    const syntax = fencedSyntaxError(text);
    const issue = syntax
      ? `worker's JSON report did not parse (${syntax}); summary taken from its text`
      : "worker's final answer had no JSON report (a ```json block with summary and issues); summary taken from its text";
    return { summary: leadingText(text), issues: [issue], report: {} };
  }
  const parsed = WorkerReportSchema.safeParse(json);
  if (!parsed.success) {
    const why = z.prettifyError(parsed.error).replaceAll('\n', '; ');
    return { summary: leadingText(text), issues: [`worker's JSON report was invalid: ${why}`], report: json };
  }
  const { summary, issues, files_created, files_modified, ...extra } = parsed.data;
  const report: Record<string, unknown> = { ...extra };
  if (files_created !== undefined) report['claimed_files_created'] = files_created;
  if (files_modified !== undefined) report['claimed_files_modified'] = files_modified;
  return { summary, issues: issues ?? [], report };
}
