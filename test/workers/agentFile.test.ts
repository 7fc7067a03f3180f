import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AGENT_TOOLS, loadAgentFile, loadAgents } from '../../src/workers/agentFile.ts';
import { AgentFileError } from '../../src/workers/agentFileError.ts';

const SHIPPED = fileURLToPath(new URL('../../agents/', import.meta.url));
const WORKERS = ['api-worker', 'db-worker', 'auth-worker'] as const;

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'agents-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function agentText(fields: string, body = 'You are a worker.\n'): string {
  return `---\n${fields}\n---\n${body}`;
}

async function writeAgent(fileName: string, text: string): Promise<string> {
  const path = join(dir, fileName);
  await writeFile(path, text);
  return path;
}

/** The AgentFileError a promise rejects with; fails the test if it resolves or rejects with something else. */
async function agentError(promise: Promise<unknown>): Promise<AgentFileError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AgentFileError);
  return error as AgentFileError;
}

describe('the shipped agent files', () => {
  it('load as the three workers, with all six tools and sonnet', async () => {
    const agents = await loadAgents(SHIPPED);
    expect([...agents.keys()].sort()).toEqual([...WORKERS].sort());
    for (const worker of WORKERS) {
      const agent = agents.get(worker);
      expect(agent?.name).toBe(worker);
      expect(agent?.tools).toEqual(['Read', 'Write', 'Edit', 'Bash', 'Glob', 'Grep']);
      expect(agent?.model).toBe('sonnet');
      expect(agent?.file).toBe(join(SHIPPED, `${worker}.md`));
      // Every worker is told how to end: the orchestrator parses that block.
      expect(agent?.systemPrompt).toContain('```json\n{ "summary":');
      expect(agent?.systemPrompt).toMatch(/Stay in your lane/);
    }
  });
});

describe('loadAgentFile', () => {
  it('reads tools as a YAML list as well as a comma-separated string, and body as the system prompt', async () => {
    const path = await writeAgent(
      'db-worker.md',
      agentText('name: db-worker\ndescription: Database work.\ntools:\n  - Read\n  - Grep\nmodel: claude-sonnet-4-5\ncolor: blue', '\nOwn the schema.\n'),
    );
    expect(await loadAgentFile(path)).toEqual({
      name: 'db-worker',
      description: 'Database work.',
      tools: ['Read', 'Grep'],
      model: 'claude-sonnet-4-5',
      systemPrompt: 'Own the schema.',
      file: path,
    });
  });

  it('defaults tools to all of them and model to inherit, as Claude Code does', async () => {
    const path = await writeAgent('db-worker.md', agentText('name: db-worker\ndescription: Database work.'));
    const agent = await loadAgentFile(path);
    expect(agent.tools).toEqual([...AGENT_TOOLS]);
    expect(agent.model).toBe('inherit');
  });

  it('rejects bad YAML, naming the file, the front matter and the line', async () => {
    const path = await writeAgent('db-worker.md', agentText('name: db-worker\ndescription: [unclosed'));
    const error = await agentError(loadAgentFile(path));
    expect(error.file).toBe(path);
    expect(error.field).toBe('front matter');
    expect(error.message).toMatch(new RegExp(`^${path}: front matter: invalid YAML`));
  });

  it('rejects a missing field, naming it', async () => {
    const path = await writeAgent('db-worker.md', agentText('name: db-worker\ntools: Read'));
    const error = await agentError(loadAgentFile(path));
    expect(error.field).toBe('description');
    expect(error.message).toBe(`${path}: description: is missing; add \`description: <when to use this agent>\``);
  });

  it('rejects an unknown tool, listing the allowed ones', async () => {
    const path = await writeAgent('db-worker.md', agentText('name: db-worker\ndescription: Database work.\ntools: Read, Delete'));
    const error = await agentError(loadAgentFile(path));
    expect(error.field).toBe('tools');
    expect(error.message).toBe(`${path}: tools: unknown tool "Delete" (allowed: Read, Write, Edit, Bash, Glob, Grep)`);
  });

  it('rejects a model that is neither an alias nor a Claude model id', async () => {
    const path = await writeAgent('db-worker.md', agentText('name: db-worker\ndescription: Database work.\nmodel: gpt-4'));
    const error = await agentError(loadAgentFile(path));
    expect(error.field).toBe('model');
    expect(error.message).toContain('"gpt-4" is not a model');
  });

  it('rejects a file without front matter, and one with an empty system prompt', async () => {
    const bare = await writeAgent('db-worker.md', 'You are a worker.\n');
    expect((await agentError(loadAgentFile(bare))).field).toBe('front matter');
    const empty = await writeAgent('api-worker.md', agentText('name: api-worker\ndescription: API work.', '\n  \n'));
    expect((await agentError(loadAgentFile(empty))).field).toBe('body');
  });

  it('rejects a missing file, naming it', async () => {
    const path = join(dir, 'db-worker.md');
    const error = await agentError(loadAgentFile(path));
    expect(error.field).toBe('file');
    expect(error.message).toMatch(new RegExp(`^${path}: file: not found`));
  });

  it('names the file relative to the working directory when it is inside it', async () => {
    const error = await agentError(loadAgentFile(join(process.cwd(), 'agents', 'no-such-worker.md')));
    expect(error.message).toMatch(/^agents\/no-such-worker\.md: file: not found/);
  });
});

describe('loadAgents', () => {
  async function copyShipped(except?: string): Promise<void> {
    for (const worker of WORKERS) {
      if (worker !== except) await copyFile(join(SHIPPED, `${worker}.md`), join(dir, `${worker}.md`));
    }
  }

  it('rejects a name that does not match the file name', async () => {
    await copyShipped('db-worker');
    const path = await writeAgent('db-worker.md', agentText('name: database\ndescription: Database work.'));
    const error = await agentError(loadAgents(dir));
    expect(error.file).toBe(path);
    expect(error.field).toBe('name');
    expect(error.message).toContain('"database" does not match the file name; set `name: db-worker` or rename the file to database.md');
  });

  it('rejects a missing worker file, naming the file it expected', async () => {
    await copyShipped('auth-worker');
    const error = await agentError(loadAgents(dir));
    expect(error.file).toBe(join(dir, 'auth-worker.md'));
    expect(error.field).toBe('file');
    expect(error.message).toContain('not found; every worker needs its agent file');
  });

  it('rejects an agent that is not one of the three workers', async () => {
    await copyShipped();
    await writeAgent('cache-worker.md', agentText('name: cache-worker\ndescription: Caching.'));
    const error = await agentError(loadAgents(dir));
    expect(error.field).toBe('name');
    expect(error.message).toContain('"cache-worker" is not a worker of this orchestrator');
  });

  it('rejects a folder that does not exist', async () => {
    const missing = join(dir, 'nope');
    await mkdir(join(dir, 'other'));
    const error = await agentError(loadAgents(missing));
    expect(error.field).toBe('directory');
    expect(error.message).toContain('cannot be read (ENOENT)');
  });
});
