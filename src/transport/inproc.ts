/**
 * The inproc transport: a registry of bound names in this process (one
 * registry per module instance, as libzmq has one per context). There are no
 * bytes: a connect hands the binder a request to build a link pair directly.
 * Connecting before the bind is allowed (as since libzmq 4.0): the connecter
 * waits for the name to appear.
 */
import { TransportError } from "../errors.js";

export interface InprocBinding {
  /** Called for each connecter; returns nothing, the binder wires the links. */
  accept(request: unknown): void;
}

const bound = new Map<string, InprocBinding>();
const waiting = new Map<string, Set<(binding: InprocBinding) => void>>();

/** Registers `name`; throws EADDRINUSE when it is taken. Returns the unbind function. */
export function bindInproc(name: string, binding: InprocBinding): () => void {
  if (bound.has(name)) {
    throw new TransportError("EADDRINUSE", `inproc://${name} is already bound`, { address: `inproc://${name}` });
  }
  bound.set(name, binding);
  const waiters = waiting.get(name);
  if (waiters) {
    waiting.delete(name);
    for (const waiter of waiters) waiter(binding);
  }
  return () => {
    if (bound.get(name) === binding) bound.delete(name);
  };
}

/**
 * Calls `onBound` with the binding of `name` now, or as soon as it is bound.
 * Returns a function that cancels the wait.
 */
export function whenInprocBound(name: string, onBound: (binding: InprocBinding) => void): () => void {
  const binding = bound.get(name);
  if (binding) {
    onBound(binding);
    return () => {};
  }
  let set = waiting.get(name);
  if (!set) waiting.set(name, (set = new Set()));
  set.add(onBound);
  return () => {
    const s = waiting.get(name);
    s?.delete(onBound);
    if (s && s.size === 0) waiting.delete(name);
  };
}
