// Socket plumbing shared by the socket contract suite: cleanup, waiting for
// events and messages, and priming pub/sub subscriptions.
import { afterEach, beforeEach } from "node:test";
import type { EventOfType, EventType, Observer } from "../../src/index.js";

interface Closable {
  close(): void;
  readonly closed: boolean;
  linger: number;
}

/**
 * Returns `track`: sockets passed to it are closed after each test of the
 * calling suite (call it at the top of a file or a describe), even when the
 * test failed half-way, so no link keeps the test process alive.
 */
export function socketScope(): <T extends Closable>(socket: T) => T {
  const open: Closable[] = [];
  // A test waiting on something that never comes should fail by its own
  // timeout, not end the process early (node:test then cancels every test
  // still to run in the file).
  let keepAlive: NodeJS.Timeout | undefined;
  beforeEach(() => {
    keepAlive = setInterval(() => {}, 60_000);
  });
  afterEach(() => {
    clearInterval(keepAlive);
    for (const socket of open.splice(0)) {
      if (socket.closed) continue;
      // A failed test may leave messages queued: do not wait for them.
      socket.linger = 0;
      socket.close();
    }
  });
  return (socket) => {
    open.push(socket);
    return socket;
  };
}

/** Resolves with the next event of `type` (that `match` accepts, if given). */
export function nextEvent<E extends EventType>(
  socket: { readonly events: Observer },
  type: E,
  match: (event: EventOfType<E>) => boolean = () => true,
): Promise<EventOfType<E>> {
  return new Promise((resolve) => {
    const listener = (event: EventOfType<E>): void => {
      if (!match(event)) return;
      socket.events.off(type, listener);
      resolve(event);
    };
    socket.events.on(type, listener);
  });
}

/** Records every event of the given types, in order, from now on. */
export function recordEvents(socket: { readonly events: Observer }, ...types: EventType[]): Array<EventOfType> {
  const seen: Array<EventOfType> = [];
  for (const type of types) socket.events.on(type, (event) => seen.push(event));
  return seen;
}

/** One turn of the event loop: lets pending I/O callbacks run. Not a wall-clock wait. */
export function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A message's frames as UTF-8 strings. */
export function strings(frames: readonly Buffer[]): string[] {
  return frames.map((frame) => frame.toString("utf8"));
}

interface Receiving {
  receive(): Promise<Buffer[]>;
}

/** Receives `count` messages, each as strings. */
export async function receiveStrings(socket: Receiving, count: number): Promise<string[][]> {
  const out: string[][] = [];
  for (let i = 0; i < count; i++) out.push(strings(await socket.receive()));
  return out;
}

/** Settles with the promise's outcome, or "pending" if it has not settled within a few event-loop turns. */
export async function settledWithin<T>(promise: Promise<T>, turns = 3): Promise<"pending" | { value: T } | { error: unknown }> {
  let outcome: "pending" | { value: T } | { error: unknown } = "pending";
  promise.then(
    (value) => (outcome = { value }),
    (error: unknown) => (outcome = { error }),
  );
  for (let i = 0; i < turns && outcome === "pending"; i++) await turn();
  return outcome;
}

const PROBE = "\u0000probe";
const FENCE = "\u0000fence";
/** Upper bound on probes, so a subscription that never takes effect fails the test instead of hanging it. */
const MAX_PROBES = 20_000;

/**
 * Waits until `publish`ed messages starting with `topic` reach `sub`: a
 * publisher cannot tell when a subscription has arrived, so probes go out
 * once per event-loop turn until one arrives. A fence message then drains
 * the probes still in flight, so the next message `sub` receives is the
 * test's own. Subscriptions travel in order on one link, so priming the
 * last subscription made also primes every earlier one.
 */
export async function primeSubscription(
  publish: (frames: string[]) => Promise<void>,
  sub: Receiving,
  topic: string,
): Promise<void> {
  let arrived = false;
  let failure: unknown;
  const first = sub.receive().then(
    () => (arrived = true),
    (error: unknown) => {
      failure = error;
      arrived = true;
    },
  );
  for (let n = 0; !arrived; n++) {
    if (n >= MAX_PROBES) throw new Error(`subscription to ${JSON.stringify(topic)} never took effect`);
    await publish([topic, PROBE]);
    await turn();
  }
  await first;
  if (failure !== undefined) throw failure;
  await publish([topic, FENCE]);
  for (;;) {
    const frames = strings(await sub.receive());
    if (frames[frames.length - 1] === FENCE) return;
  }
}

/** The code of the error an event carries, if any. */
export function errorCodeOf(event: unknown): string | undefined {
  return (event as { error?: { code?: string } } | undefined)?.error?.code;
}

interface TickingClock {
  now(): number;
  nextDue(): number | undefined;
  tick(ms: number): number;
}

/**
 * Moves a connecter's fake `clock` through its reconnect attempts until
 * `linked` settles (create it, e.g. with nextEvent(socket, "handshake"),
 * before the event can happen). A retry is either waiting on the clock, or
 * dialling right now and about to report "connect:retry" or the handshake.
 */
export async function reconnectOnClock(
  socket: { readonly events: Observer },
  clock: TickingClock,
  linked: Promise<unknown>,
): Promise<void> {
  let done = false;
  void linked.then(() => (done = true));
  while (!done) {
    const retried = nextEvent(socket, "connect:retry");
    const due = clock.nextDue();
    if (due !== undefined) clock.tick(due - clock.now());
    await Promise.race([linked, retried]);
  }
}
