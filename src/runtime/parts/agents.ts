import type { Config } from '../../config.ts';
import { DEFAULT_PRICES, priceOf, type PriceTable } from '../../limits/prices.ts';
import { resolveModelId } from '../../models/aliases.ts';
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
 * the price of every model they and the planner use: checked before anything
 * is started or connected, or spend could not be counted.
 */
export async function loadPricedAgents(config: Config): Promise<PricedAgents> {
  const agents = await loadAgents(config.agents);
  const resolveModel = (alias: string): string => resolveModelId(alias, config.anthropic.models);
  const prices: PriceTable = { ...DEFAULT_PRICES, ...config.prices };
  for (const id of new Set([...[...agents.values()].map((a) => resolveModel(a.model)), resolveModel(config.anthropic.plannerModel)])) {
    priceOf(id, prices);
  }
  return { agents, resolveModel, prices };
}
