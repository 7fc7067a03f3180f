import type { Config } from '../config.ts';
import { ConfigError } from '../errors.ts';

/** What `start` logs (as a warning) when the workers are the offline stand-in. */
export const STAND_IN_WARNING =
  'model: the offline stand-in (--model scripted), not Claude: it writes placeholder code, and every result says so in its stand_in field; do not point it at a real project or a queue real peers use';

/**
 * `start` without ANTHROPIC_API_KEY and without `--model`: refused, never
 * the stand-in in silence. The stand-in's placeholder code would be
 * committed and merged into a real project (`--project`) or published to
 * the network's waiters as work done. `demo` chooses the stand-in itself.
 */
export function refuseImplicitStandIn(modelFlag: unknown, config: Config): void {
  if (modelFlag !== undefined || config.anthropic.apiKey) return;
  throw new ConfigError(
    'no ANTHROPIC_API_KEY: start runs Claude workers on real tasks. Set it (export ANTHROPIC_API_KEY=sk-ant-...), ' +
      'or pass --model scripted to run the offline stand-in, which writes placeholder code (for trying the orchestrator, not for a real project)',
  );
}
