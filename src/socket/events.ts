/**
 * Socket lifecycle events, with zeromq.js v6's namespaced names. There is
 * deliberately no bare "error" event (Node throws on an unhandled one);
 * failures carry their error in `error` on a namespaced event instead.
 *
 * Use listeners (`socket.events.on("connect", ...)`) or async iteration
 * (`for await (const event of socket.events)`), or both.
 */
import { EventEmitter } from "node:events";
import type { ProtocolError, SwitchboardError } from "../errors.js";
import { ClosedError } from "../errors.js";
import { Queue } from "../util/queue.js";

type EventFor<T extends string, D = object> = { type: T } & D;
type Addr = { address: string };
type Err<E = SwitchboardError> = { error: E };

export type Event =
  | EventFor<"accept", Addr>
  | EventFor<"accept:error", Addr & Err>
  | EventFor<"bind", Addr>
  | EventFor<"bind:error", Addr & Err>
  | EventFor<"connect", Addr>
  | EventFor<"connect:delay", Addr>
  | EventFor<"connect:retry", Addr & { interval: number }>
  | EventFor<"close", Addr>
  | EventFor<"close:error", Addr & Err>
  | EventFor<"disconnect", Addr & Partial<Err>>
  | EventFor<"end">
  | EventFor<"handshake", Addr>
  | EventFor<"handshake:error:protocol", Addr & Err<ProtocolError>>
  | EventFor<"handshake:error:auth", Addr & Err>
  | EventFor<"handshake:error:other", Addr & Err>
  | EventFor<"unknown">;

export type EventType = Event["type"];
export type EventOfType<E extends EventType = EventType> = Extract<Event, { type: E }>;

/** Events kept for `receive()` / async iteration when nobody reads them. */
const MAX_BUFFERED_EVENTS = 1000;

export class Observer {
  private readonly emitter = new EventEmitter();
  private readonly buffered = new Queue<Event>();
  private readonly readers = new Queue<{ resolve(e: Event | undefined): void }>();
  private iterating = false;
  private ended = false;

  /** Whether the observer was closed (by close() or because the socket closed). */
  get closed(): boolean {
    return this.ended;
  }

  on<E extends EventType>(type: E, listener: (data: EventOfType<E>) => void): this {
    this.emitter.on(type, listener as (data: unknown) => void);
    return this;
  }

  off<E extends EventType>(type: E, listener: (data: EventOfType<E>) => void): this {
    this.emitter.off(type, listener as (data: unknown) => void);
    return this;
  }

  once<E extends EventType>(type: E, listener: (data: EventOfType<E>) => void): this {
    this.emitter.once(type, listener as (data: unknown) => void);
    return this;
  }

  /** Waits for the next event; rejects with EBADF once the observer is closed and drained. */
  async receive(): Promise<Event> {
    this.iterating = true;
    const event = this.buffered.shift();
    if (event) return event;
    if (this.ended) throw new ClosedError("Observer is closed");
    const next = await new Promise<Event | undefined>((resolve) => this.readers.push({ resolve }));
    if (!next) throw new ClosedError("Observer is closed");
    return next;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Event, undefined> {
    this.iterating = true;
    for (;;) {
      const event = this.buffered.shift();
      if (event) {
        yield event;
        continue;
      }
      if (this.ended) return undefined;
      const next = await new Promise<Event | undefined>((resolve) => this.readers.push({ resolve }));
      if (!next) return undefined;
      yield next;
    }
  }

  /** Stops delivering events. */
  close(): void {
    if (this.ended) return;
    this.ended = true;
    for (const reader of this.readers.drain()) reader.resolve(undefined);
    this.emitter.removeAllListeners();
  }

  /** @internal Emits an event to listeners and readers. */
  emit(event: Event): void {
    if (this.ended) return;
    this.emitter.emit(event.type, event);
    const reader = this.readers.shift();
    if (reader) {
      reader.resolve(event);
    } else if (this.iterating) {
      if (this.buffered.length >= MAX_BUFFERED_EVENTS) this.buffered.shift();
      this.buffered.push(event);
    }
  }
}
