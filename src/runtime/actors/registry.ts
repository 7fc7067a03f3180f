import { fromPromise } from 'xstate';
import { deregisterAgent, heartbeat, registerAgent } from '../../redis/registry.ts';
import type { ListenerShared } from './deps.ts';

/** The listener's entries in the domain's registry: registered at start, marked stopping, deregistered at the end. */
export function registryActors({ registry }: ListenerShared) {
  return {
    register: fromPromise(() => registerAgent(registry, 'active')),
    markStopping: fromPromise(() => heartbeat(registry, 'stopping')),
    deregister: fromPromise(() => deregisterAgent(registry)),
  };
}
