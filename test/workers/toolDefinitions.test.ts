import { describe, expect, it } from 'vitest';
import { getTools, TOOL_NAMES } from '../../src/workers/tools/index.ts';

describe('tool definitions', () => {
  it('offers every tool under its Claude Code name with a JSON schema derived from its zod schema', () => {
    const tools = getTools([...TOOL_NAMES]);
    expect(tools.map((t) => t.definition.name)).toEqual(['Read', 'Write', 'Edit', 'Bash', 'Glob', 'Grep']);
    const schema = (name: string) => tools.find((t) => t.name === name)!.definition.input_schema;
    expect(schema('Read')).toMatchObject({ type: 'object', required: ['file_path'] });
    expect(schema('Write').required).toEqual(['file_path', 'content']);
    expect(schema('Edit').required).toEqual(['file_path', 'old_string', 'new_string']);
    expect(Object.keys(schema('Grep').properties as object)).toEqual(
      expect.arrayContaining(['pattern', 'path', 'glob', 'output_mode', '-i', '-n']),
    );
    expect(schema('Bash')).not.toHaveProperty('$schema');
  });

  it('returns only the tools asked for, once each, in the order asked', () => {
    expect(getTools(['Grep', 'Read', 'Grep']).map((t) => t.name)).toEqual(['Grep', 'Read']);
  });
});
