import type { Config } from '../../config.ts';
import type { Logger } from '../../logger.ts';
import { DEFAULT_PRICES, findPrice, UnknownModelPriceError, type PriceTable } from '../../limits/prices.ts';
import { resolveModelId } from '../../models/aliases.ts';
import { modelInfo } from '../../models/catalog.ts';
import { loadAgents, type AgentDefinition } from '../../workers/agentFile.ts';
import type { WorkerName } from '../../protocol/output.ts';

export interface PricedAgents {
  agents: ReadonlyMap<WorkerName, AgentDefinition>;
  /** An agent file's alias (or the planner's) to the model id the API knows. */
  resolveModel: (alias: string) => string;
  prices: PriceTable;
}

/**
 * The agent files, loaded and checked (a bad one stops start-up here), and
 * the models they, the planner and the fallback use, checked before anything
 * is started or connected: a model without a price starts with one warning
 * (its tokens are counted, its cost is reported as unknown), unless a budget
 * is set (`--task-budget-usd`), which could not be held: start-up stops then,
 * saying how to give the price. A model the catalog does not know, or an
 * effort it does not take, is said once too.
 */
export async function loadPricedAgents(config: Config, logger?: Logger): Promise<PricedAgents> {
  const agents = await loadAgents(config.agents);
  const resolveModel = (alias: string): string => resolveModelId(alias, config.anthropic.models);
  const prices: PriceTable = { ...DEFAULT_PRICES, ...config.prices };
  const used = new Set([
    ...[...agents.values()].map((a) => resolveModel(a.model)),
    ...(config.planner === 'llm' ? [resolveModel(config.anthropic.plannerModel)] : []),
    ...(config.anthropic.fallbackModel !== undefined ? [resolveModel(config.anthropic.fallbackModel)] : []),
  ]);
  for (const id of used) {
    const info = modelInfo(id);
    if (findPrice(id, prices) === undefined) {
      if (config.taskBudgetUsd !== undefined) throw new UnknownModelPriceError(id, 'a budget is set (--task-budget-usd)');
      logger?.warn({ model: id }, `no price for model ${id}: its tokens are counted, its cost is reported as unknown; give it in the config file (prices)`);
    }
    if (info === undefined) {
      logger?.warn({ model: id }, `model ${id} is not in the catalog (src/models/catalog.ts): its requests use only what every model accepts (no effort, no structured outputs)`);
    } else if (info.status !== 'current') {
      logger?.info({ model: id, status: info.status }, `model ${id} is ${info.status}`);
    }
    if (config.anthropic.effort !== undefined && info?.effort !== true) {
      logger?.warn({ model: id, effort: config.anthropic.effort }, `model ${id} does not take an effort: --effort is not sent to it`);
    }
  }
  return { agents, resolveModel, prices };
}
