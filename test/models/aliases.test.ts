import { describe, expect, it } from 'vitest';
import { resolveModelId, UnknownModelAliasError } from '../../src/models/aliases.ts';

describe('resolveModelId', () => {
  it('maps the aliases of agent files to the current models', () => {
    expect(resolveModelId('sonnet')).toBe('claude-sonnet-5-5');
    expect(resolveModelId('opus')).toBe('claude-opus-5-5');
    expect(resolveModelId(' Haiku ')).toBe('claude-haiku-5-5');
  });

  it('reads inherit as the sonnet alias unless the config says otherwise', () => {
    expect(resolveModelId('inherit')).toBe('claude-sonnet-5-5');
    expect(resolveModelId('inherit', { sonnet: 'claude-sonnet-4-6' })).toBe('claude-sonnet-4-6');
    expect(resolveModelId('inherit', { inherit: 'claude-opus-4-5' })).toBe('claude-opus-4-5');
  });

  it('passes full ids through and applies overrides', () => {
    expect(resolveModelId('claude-haiku-4-5-20251001')).toBe('claude-haiku-4-5-20251001');
    expect(resolveModelId('opus', { opus: 'claude-opus-4-5' })).toBe('claude-opus-4-5');
    expect(resolveModelId('fast', { fast: 'claude-haiku-4-5' })).toBe('claude-haiku-4-5');
  });

  it('refuses an unknown name, saying what is accepted', () => {
    expect(() => resolveModelId('gpt-4')).toThrow(UnknownModelAliasError);
    expect(() => resolveModelId('gpt-4')).toThrow(/haiku, opus, sonnet, inherit.*anthropic.models/);
  });
});
