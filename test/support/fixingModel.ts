import { FIX_ROUND_HEADING } from '../../src/protocol/checks.ts';
import { createScriptedModel } from '../../src/models/scripted.ts';
import type { ModelClient } from '../../src/models/types.ts';

/**
 * The scripted model, except in a fix round (a prompt under
 * FIX_ROUND_HEADING): there the worker writes `file` (the "fix" a test's
 * check looks for) and reports. `prompts` keeps every fix-round prompt.
 */
export function fixingModel(o: { file?: string; content?: string; latencyMs?: number } = {}): { model: ModelClient; fixPrompts: string[] } {
  const inner = createScriptedModel({ latencyMs: () => o.latencyMs ?? 0, fail: new Set() });
  const fixPrompts: string[] = [];
  const file = o.file ?? 'FIXED';
  return {
    fixPrompts,
    model: {
      kind: 'scripted',
      async createMessage(params, options) {
        const first = params.messages[0]?.content;
        const prompt = typeof first === 'string' ? first : (first ?? []).flatMap((b) => (b.type === 'text' ? [b.text] : [])).join('\n');
        const template = await inner.createMessage(params, options);
        if (!prompt.includes(FIX_ROUND_HEADING)) return template;
        const turn = params.messages.filter((m) => m.role === 'assistant').length + 1;
        if (turn === 1) {
          fixPrompts.push(prompt);
          return {
            ...template,
            content: [{ type: 'tool_use', id: `toolu_fix_${fixPrompts.length}`, name: 'Write', input: { file_path: file, content: o.content ?? 'fixed\n' }, caller: { type: 'direct' } }],
            stop_reason: 'tool_use',
          } as typeof template;
        }
        return {
          ...template,
          content: [{ type: 'text', text: `Done.\n\n\`\`\`json\n${JSON.stringify({ summary: `wrote ${file}, the fix the check asked for`, issues: [] })}\n\`\`\``, citations: null }],
          stop_reason: 'end_turn',
        } as typeof template;
      },
    },
  };
}
