import type { AnyStateNode, AnyTransitionDefinition } from 'xstate';

/**
 * Readable labels for the parts of a transition as XState stores them, in the
 * UML form `event [guard] / actions`. XState keeps internal event names
 * (`xstate.done.actor.0.listener.listening`); a diagram reader wants
 * `done(claim)`. No colons: Mermaid ends a label at the second one.
 */

const DONE = 'xstate.done.actor.';
const ERROR = 'xstate.error.actor.';
const AFTER = 'xstate.after.';
const STATE_DONE = 'xstate.done.state.';

/** XState names an invoke without an `id` `${index}.${stateNodeId}`: not worth showing. */
export const isGeneratedInvokeId = (node: AnyStateNode, id: string): boolean => /^\d+\./.test(id) && id.endsWith(`.${node.id}`);

/** The invoke's own id names its done/error events; a generated one is replaced by the `src`. */
function actorLabel(node: AnyStateNode, actorId: string): string {
  if (actorId === '*') return 'any child';
  const invoke = node.invoke.find((i) => i.id === actorId);
  if (invoke && isGeneratedInvokeId(node, invoke.id) && typeof invoke.src === 'string') return invoke.src;
  return actorId;
}

function delayLabel(delay: unknown): string {
  if (typeof delay === 'number') return `${delay} ms`;
  if (typeof delay === 'string') return delay;
  return 'inline delay';
}

export function eventLabel(node: AnyStateNode, t: AnyTransitionDefinition): string {
  const type = String(t.eventType);
  if (type === '') return 'always';
  if (type === '*') return 'any event';
  if (type.startsWith(AFTER)) {
    const delayed = node.after.find((a) => a.eventType === type);
    return `after(${delayLabel(delayed?.delay)})`;
  }
  if (type.startsWith(DONE)) return `done(${actorLabel(node, type.slice(DONE.length))})`;
  if (type.startsWith(ERROR)) return `error(${actorLabel(node, type.slice(ERROR.length))})`;
  if (type.startsWith(STATE_DONE)) return 'done';
  return type;
}

/** Guards are a name, `{ type }`, an inline function, or and/or/not wrapping those. */
export function guardLabel(guard: unknown): string | undefined {
  if (guard === undefined) return undefined;
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'function') {
    const inner = (guard as { guards?: unknown[] }).guards;
    if (Array.isArray(inner) && ['and', 'or', 'not'].includes(guard.name)) {
      return `${guard.name}(${inner.map((g) => guardLabel(g) ?? '?').join(', ')})`;
    }
    return guard.name && guard.name !== 'guard' ? guard.name : 'inline guard';
  }
  if (typeof guard === 'object' && guard !== null && typeof (guard as { type?: unknown }).type === 'string') {
    return (guard as { type: string }).type;
  }
  return 'inline guard';
}

/** Named actions only: inline `assign`/`emit` are implementation detail, noise in a diagram. */
export function actionNames(actions: readonly unknown[]): string[] {
  const names: string[] = [];
  for (const a of actions) {
    const name = typeof a === 'string' ? a : typeof a === 'object' && a !== null ? (a as { type?: unknown }).type : undefined;
    if (typeof name === 'string' && !name.startsWith('xstate.')) names.push(name);
  }
  return names;
}

/**
 * `event [guard] / actions`. A guardless transition after guarded ones for
 * the same event is the fallback: `[else]` says so, since order decides.
 */
export function transitionLabel(node: AnyStateNode, t: AnyTransitionDefinition, afterGuarded: boolean): string {
  const guard = guardLabel(t.guard) ?? (afterGuarded ? 'else' : undefined);
  const actions = actionNames(t.actions);
  const label = `${eventLabel(node, t)}${guard ? ` [${guard}]` : ''}${actions.length ? ` / ${actions.join(', ')}` : ''}`;
  return mermaidText(label);
}

/** Mermaid's state grammar ends a label at `:`, `;` or a newline, and reads `#` as a comment. */
export const mermaidText = (text: string): string => text.replace(/[:;#\n]/g, ' ');

/**
 * `event [guard]` of one transition, `[else]` for the guardless fallback
 * after guarded ones of the same event: what the console writes on each
 * edge, and what a task's state history names the transition it took by.
 */
export function edgeLabel(node: AnyStateNode, t: AnyTransitionDefinition): string {
  const group = t.eventType === '' ? (node.always ?? []) : (node.transitions.get(t.eventType) ?? []);
  const before = group.slice(0, Math.max(0, group.indexOf(t)));
  const guard = guardLabel(t.guard) ?? (before.some((x) => x.guard !== undefined) ? 'else' : undefined);
  return `${eventLabel(node, t)}${guard ? ` [${guard}]` : ''}`;
}
