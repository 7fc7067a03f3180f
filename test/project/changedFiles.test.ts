import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildTaskMessage, sendTask } from '../../src/client/send.ts';
import type { ModelClient } from '../../src/models/types.ts';
import type { TaskOutput } from '../../src/protocol/output.ts';
import { startTestOrchestrator } from '../support/orchestrator.ts';
import { gitIn, sampleProject } from '../support/project.ts';
import { client, eventually } from '../support/redis.ts';
import { reply, text, toolUse } from '../workers/stubModel.ts';

// Item 5 of issue 23: a worker that writes a file again with the content it
// already has did not modify it. The lists of a result, its details and its
// progress line come from what the commits changed, so they agree with them.

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const report = (summary: string) => `\`\`\`json\n${JSON.stringify({ summary, issues: [] })}\n\`\`\``;

/** Every worker's first turn writes `writes(caller)`; its second ends with a report. */
function writingModel(writes: (caller: string) => Record<string, string>): ModelClient {
  return {
    kind: 'scripted',
    async createMessage(params, { caller }) {
      if (caller === 'planner') return reply([text('no plan')]);
      if (params.messages.length > 1) return reply([text(report(`${caller} done`))]);
      const files = Object.entries(writes(caller));
      if (files.length === 0) return reply([text(report(`${caller}: nothing to do`))]);
      return reply(files.map(([file_path, content], i) => toolUse(`w${i}`, 'Write', { file_path, content })));
    },
  };
}

async function run(model: ModelClient, description: string) {
  const project = await sampleProject();
  const t = await startTestOrchestrator({ project }, { model });
  const redis = client();
  cleanups.push(() => redis.quit(), () => t.orchestrator.stop());
  const m = buildTaskMessage({ description }, t.config.domain);
  await sendTask(redis, t.keys, m);
  const record = await eventually(async () => {
    const h = await redis.hgetall(`results:${m.task_id}`);
    return h.status === 'completed' || h.status === 'failed' ? h : undefined;
  }, 60_000, 'the result');
  const output = JSON.parse(record.output!) as TaskOutput;
  const logs = (await redis.lrange(t.keys.resultLogs(m.task_id), 0, -1)).map((l) => l.replace(/^\[[^\]]+\] /, ''));
  return { project, record, output, logs };
}

/** `git diff-tree` of one commit, in the progress line's notation (`+created ~modified -deleted`). */
function changedBy(project: string, commit: string): string[] {
  return gitIn(project, 'diff-tree', '-r', '--no-commit-id', '--no-renames', '--name-status', commit)
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [status, file] = line.split('\t');
      return `${status === 'A' ? '+' : status === 'D' ? '-' : '~'}${file}`;
    });
}

describe("a task's changed files come from its commits", () => {
  it('a file written again unchanged is in no list: not in the worker\'s result, its progress line, nor the task\'s output', async () => {
    const sample = await sampleProject();
    const dbJs = readFileSync(join(sample, 'src/db.js'), 'utf8');
    const appJs = readFileSync(join(sample, 'src/app.js'), 'utf8');
    const model = writingModel((caller) =>
      caller === 'db-worker'
        ? { 'src/db.js': dbJs, 'migrations/002_add_users_email_index.sql': 'CREATE INDEX IF NOT EXISTS users_email ON users (email);\n' }
        : { 'src/app.js': appJs },
    );
    const { project, record, output, logs } = await run(model, 'Add an index on the users table');
    expect(record.status).toBe('completed');
    const db = output.details['db-worker']!;
    expect(db.files_created).toEqual(['migrations/002_add_users_email_index.sql']);
    expect(db.files_modified).toEqual([]);
    expect(logs.find((l) => l.startsWith('db-worker succeeded'))).toMatch(/: \+migrations\/002_add_users_email_index\.sql, \d+ tokens$/);
    // Every worker's progress line names exactly what its commit changed.
    for (const [worker, detail] of Object.entries(output.details)) {
      const line = logs.find((l) => l.startsWith(`${worker} succeeded`))!;
      const listed = /: (.*?)(, \d+ tokens)?$/.exec(line)![1]!;
      expect(listed === 'no files' ? [] : listed.split(' '), worker).toEqual(changedBy(project, detail!.commit!));
    }
    expect(output.files_created).toEqual(['migrations/002_add_users_email_index.sql']);
    expect(output.files_modified).toEqual([]);
    expect(output.files_deleted).toEqual([]);
    expect(output.files_modified_abs).toEqual([]);
    expect(gitIn(project, 'diff', '--name-only', `${output.git!.base}..main`)).toBe('migrations/002_add_users_email_index.sql');
  });

  it('a task whose every write left its file as it was lists no file, as its "merged (…; no changes)" line says', async () => {
    const sample = await sampleProject();
    const dbJs = readFileSync(join(sample, 'src/db.js'), 'utf8');
    const { output, logs } = await run(writingModel(() => ({ 'src/db.js': dbJs })), 'Add an index on the users table');
    expect(output.outcome).toBe('completed');
    expect(logs.find((l) => l.startsWith('git: '))).toMatch(/ merged \([0-9a-f]{12}; no changes\)$/);
    expect(output.files_created).toEqual([]);
    expect(output.files_modified).toEqual([]);
    for (const detail of Object.values(output.details)) expect(detail!.files_modified).toEqual([]);
    expect(logs.filter((l) => / succeeded in /.test(l)).every((l) => / no files/.test(l))).toBe(true);
  });
});
