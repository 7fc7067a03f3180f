import { listenerMachine } from '../../machines/listener.machine.ts';
import { taskMachine } from '../../machines/task.machine.ts';
import { workerMachine } from '../../machines/worker.machine.ts';
import type { TaskRef } from '../protocol/taskRef.ts';
import type { StaleHolderError } from '../redis/progress.ts';
import { claimActor } from './actors/claim.ts';
import type { ListenerShared, RuntimeDeps } from './actors/deps.ts';
import { handOffActor } from './actors/handOff.ts';
import { heartbeatActor } from './actors/heartbeat.ts';
import { planTaskActor } from './actors/planTask.ts';
import { publishActor } from './actors/publish.ts';
import { registryActors } from './actors/registry.ts';
import { runAgentActor } from './actors/runAgent.ts';
import { runChecksActor } from './actors/runChecks.ts';

/**
 * The listener machine with its real actors (one a file under actors/):
 * Redis for claims, results and the registry, the planner, and the worker
 * step. Progress lines go to `results:{id}:logs` as each actor does its part.
 */
export function createRuntimeMachine(deps: RuntimeDeps) {
  const shared: ListenerShared = {
    ...deps,
    registry: {
      redis: deps.redis,
      keys: deps.keys,
      agentId: deps.agentId,
      domain: deps.domain,
      ttlSeconds: Math.max(1, Math.ceil((deps.heartbeatIntervalMs * 3) / 1000)),
      ...(deps.registryInfo ? { extra: deps.registryInfo } : {}),
    },
    fenced: new Set<string>(),
    done(task: TaskRef, stale?: StaleHolderError) {
      deps.progress.drop(task, stale);
      deps.prompts.forget(task);
      deps.onTaskDone?.(task);
    },
  };
  const worker = workerMachine.provide({ actors: { runAgent: runAgentActor(shared) } });
  const task = taskMachine.provide({ actors: { planTask: planTaskActor(shared), worker, runChecks: runChecksActor(shared), publish: publishActor(shared) } });
  return listenerMachine.provide({
    actors: {
      task,
      claim: claimActor(shared),
      heartbeat: heartbeatActor(shared),
      ...registryActors(shared),
      handOff: handOffActor(shared),
    },
  });
}
