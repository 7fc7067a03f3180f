import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatSurvey, surveyWorkspace } from '../../src/workers/survey.ts';

let root: string;

async function write(path: string, content = ''): Promise<void> {
  await mkdir(dirname(join(root, path)), { recursive: true });
  await writeFile(join(root, path), content);
}

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'survey-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('surveyWorkspace', () => {
  it('finds models, routes, middleware, migrations, auth files and package.json dependencies by looking', async () => {
    await write('package.json', JSON.stringify({ name: 'shop', dependencies: { express: '^4', sequelize: '^6' }, devDependencies: { vitest: '^4' } }));
    await write('src/models/user.js');
    await write('src/post.model.ts');
    await write('src/routes/users.js');
    await write('src/controllers/posts.controller.ts');
    await write('src/middleware/errorHandler.js');
    await write('migrations/20240101120000-create-users.js');
    await write('src/auth/jwt.ts');
    await write('src/app.ts');
    await write('README.md');
    // Dependencies and VCS data say nothing about the project's own layout.
    await write('node_modules/sequelize/lib/models/model.js');
    await write('.git/hooks/routes.js');

    const survey = await surveyWorkspace(root);
    expect(survey).toMatchObject({
      exists: true,
      truncated: false,
      models: ['src/post.model.ts', 'src/models/user.js'],
      routes: ['src/controllers/posts.controller.ts', 'src/routes/users.js'],
      middleware: ['src/middleware/errorHandler.js'],
      migrations: ['migrations/20240101120000-create-users.js'],
      auth: ['src/auth/jwt.ts'],
      packageJson: { name: 'shop', dependencies: ['express', 'sequelize'], devDependencies: ['vitest'] },
    });
    expect(survey.fileCount).toBe(10);
    expect(survey.topLevel).toEqual(['.git/', 'README.md', 'migrations/', 'node_modules/', 'package.json', 'src/']);

    const text = formatSurvey(survey);
    expect(text).toContain('- models: src/post.model.ts, src/models/user.js');
    expect(text).toContain('- package.json (shop): dependencies express, sequelize; devDependencies vitest');
    expect(text).toContain('- auth: src/auth/jwt.ts');
    expect(text).not.toContain('node_modules/sequelize');
  });

  it('stops at the file cap and says so', async () => {
    for (const name of ['a', 'b', 'c', 'd', 'e']) await write(`${name}.ts`);
    const survey = await surveyWorkspace(root, { maxFiles: 3 });
    expect(survey.fileCount).toBe(3);
    expect(survey.truncated).toBe(true);
    expect(formatSurvey(survey)).toContain('the walk stopped there, use Glob to find more');
  });

  it('says an empty workspace is empty', async () => {
    const survey = await surveyWorkspace(root);
    expect(survey.fileCount).toBe(0);
    expect(formatSurvey(survey)).toContain('The workspace is empty: there is no existing code to follow.');
  });

  it('treats a workspace that does not exist yet as empty', async () => {
    const limit = Error.stackTraceLimit;
    const survey = await surveyWorkspace(join(root, 'not-yet'));
    expect(survey.exists).toBe(false);
    expect(Error.stackTraceLimit).toBe(limit); // no stack built for the missing folder, and the limit put back
    expect(formatSurvey(survey)).toContain('The workspace is empty (the folder does not exist yet');
  });

  it('stops at the walk limits and says so, rather than calling the workspace empty', async () => {
    for (let i = 0; i < 50; i++) await write(`bulk/f${i}.ts`);
    await write('src/user.model.ts');
    // The root (2 entries) fits; bulk's 50 names do not: only the top level is known.
    const survey = await surveyWorkspace(root, { walk: { timeoutMs: 60_000, maxEntries: 10 } });
    expect(survey).toMatchObject({ truncated: true, topLevel: ['bulk/', 'src/'] });
    expect(survey.fileCount).toBeLessThan(51);
    expect(formatSurvey(survey)).toContain('the walk stopped there, use Glob to find more');
    // Out of time before the first folder is read: nothing seen, and not called empty either.
    const late = await surveyWorkspace(root, { walk: { timeoutMs: -1, maxEntries: 10 } });
    expect(late).toMatchObject({ truncated: true, fileCount: 0 });
    expect(formatSurvey(late)).not.toContain('The workspace is empty');
  });

  it('says "none found" for a category with no files', async () => {
    await write('src/index.ts');
    expect(formatSurvey(await surveyWorkspace(root))).toContain('- migrations: none found');
  });
});

describe('survey of a hostile workspace', () => {
  it('does not open a FIFO named package.json (it would block the event loop)', async () => {
    const root = mkdtempSync(join(tmpdir(), 'survey-fifo-'));
    try {
      execFileSync('mkfifo', [join(root, 'package.json')]);
      writeFileSync(join(root, 'user.model.js'), 'x');
      const survey = await surveyWorkspace(root);
      expect(survey.packageJson).toBeUndefined();
      expect(survey.models).toEqual(['user.model.js']);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
