import type { Config } from '../../config.ts';
import { guardModel, type ModelGuard } from '../../limits/guardedModel.ts';
import type { ModelClient } from '../../models/types.ts';
import type { Metrics } from '../../observability/metrics.ts';
import { createLlmPlanner } from '../../planning/llmPlanner.ts';
import { planTask } from '../../planning/planTask.ts';
import type { TaskWorkspaces } from '../../project/taskWorkspaces.ts';
import type { RuntimeDeps } from '../actors/deps.ts';
import { hasId } from '../../protocol/taskRef.ts';

/** How a claimed task is planned: by the model with `--planner llm` (through the guard, its spend counted), by rules otherwise. */
export function createPlanner(
  config: Config,
  deps: { model: ModelClient; guard: ModelGuard; metrics: Metrics | undefined; resolveModel: (alias: string) => string; workspaces: TaskWorkspaces | undefined },
): RuntimeDeps['plan'] {
  const { metrics, workspaces } = deps;
  const llm =
    config.planner === 'llm'
      ? createLlmPlanner({
          model: guardModel(deps.model, deps.guard, { onSpend: (id, _usage, usd) => metrics?.cost('planner', id, usd) }),
          modelId: deps.resolveModel(config.anthropic.plannerModel),
          ...(config.anthropic.effort !== undefined ? { effort: config.anthropic.effort } : {}),
        })
      : undefined;
  return (task, ref, signal) => {
    // The task branch is taken from the project's head at claim time, while the plan is made.
    // Workers wait for the same preparation; a failure here is retried by the first of them.
    if ((workspaces?.isolation === 'worktree' || workspaces?.isolation === 'box') && hasId(ref)) void workspaces.prepare(ref, new AbortController().signal).catch(() => undefined);
    return planTask(task, { ...(llm ? { llm } : {}), signal });
  };
}
