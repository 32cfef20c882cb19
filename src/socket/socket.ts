/**
 * The base of every socket pattern: lifecycle, options, peers (pipes), and
 * the send/receive machinery. Pattern classes (push.ts, req.ts, ...) supply
 * the routing rules through the `x*` hooks; binding and connecting is the
 * {@link Endpoints} collaborator's job.
 *
 * Lifecycle: `open --close()--> closed`. Every public method checks it.
 *
 * Sending: a message is handed to the pattern at once when the pattern can
 * take it; otherwise the call waits in a FIFO of senders (bounded by
 * `sendTimeout`), so concurrent sends go out in call order and each resolves
 * when its message is queued, never beyond the high-water mark.
 */
import { AgainError, ClosedError, InvalidArgumentError, type SwitchboardError } from "../errors.js";
import { realClock, type Clock, type TimerHandle } from "../connection/clock.js";
import type { Link } from "../connection/link.js";
import type { SocketType } from "../wire/constants.js";
import { Queue } from "../util/queue.js";
import { Endpoints } from "./endpoints.js";
import { Observer } from "./events.js";
import { CORE_OPTIONS, checkOption, defaultCoreOptions, type CoreOptions, type OptionSpec } from "./options.js";
import { Pipe, type PipeOwner } from "./pipe.js";
import { toFrames, type MessageLike } from "./message.js";

export interface ConstructorOptions {
  /** A clock for timers (heartbeats, reconnects, timeouts). Tests inject a fake one. */
  clock?: Clock;
}

interface SendWaiter {
  frames: Buffer[];
  resolve(): void;
  reject(error: SwitchboardError): void;
  timer: TimerHandle | undefined;
  done: boolean;
}

interface ReceiveWaiter {
  resolve(frames: Buffer[]): void;
  reject(error: SwitchboardError): void;
  timer: TimerHandle | undefined;
  done: boolean;
}

const RESOLVED = Promise.resolve();

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export abstract class Socket implements PipeOwner {
  /** Lifecycle events (connect, accept, disconnect, ...). */
  readonly events = new Observer();
  /** @internal */
  readonly clock: Clock;
  /** @internal Option values; read them through the option properties. */
  readonly options: CoreOptions = defaultCoreOptions();
  /** @internal */
  readonly endpoints: Endpoints;
  private isClosed = false;
  private readonly senders = new Queue<SendWaiter>();
  private readonly receivers = new Queue<ReceiveWaiter>();
  /** @internal Set by a pipe when a message waits in its queue (see sendMessage). */
  congested = false;
  /** A pending yield to the event loop that accepted sends resolve after. */
  private turn: Promise<void> | undefined;
  private servingReceivers = false;
  /** @internal Every pipe of this socket. */
  readonly pipes = new Set<Pipe>();

  protected constructor(
    /** @internal The ZMTP socket type. */
    readonly socketType: SocketType,
    options: object | undefined,
    /** Defaults that differ from the common ones for this socket type. */
    defaults: Partial<CoreOptions> = {},
  ) {
    const { clock, ...rest } = (options ?? {}) as ConstructorOptions & Record<string, unknown>;
    this.clock = clock ?? realClock;
    Object.assign(this.options, defaults);
    this.endpoints = new Endpoints(this);
    // Options are accessors on the prototype, so they exist (and validate)
    // here, before any subclass field initialiser runs.
    for (const [name, value] of Object.entries(rest)) {
      if (!(name in this)) throw new InvalidArgumentError(`unknown option ${name} for a ${socketType} socket`);
      if (value !== undefined) (this as Record<string, unknown>)[name] = value;
    }
  }

  /** Whether close() was called. */
  get closed(): boolean {
    return this.isClosed;
  }

  /** Whether a message could be received now without waiting. */
  get readable(): boolean {
    return !this.isClosed && this.xHasIn();
  }

  /** Whether a message could be sent now without waiting. */
  get writable(): boolean {
    this.dropSettledSenders();
    return !this.isClosed && this.senders.length === 0 && this.xHasOut();
  }

  /** @internal Whether a message handed to the pattern now would go out in call order (open, and no send waiting). */
  protected get sendQueueEmpty(): boolean {
    this.dropSettledSenders();
    return !this.isClosed && this.senders.length === 0;
  }

  /** Timed-out senders leave their slot at the head of the queue; clear them so they hold nobody up. */
  private dropSettledSenders(): void {
    while (this.senders.peek()?.done === true) this.senders.shift();
  }

  /** The endpoint of the last bind, resolved (ephemeral port filled in), or null. */
  get lastEndpoint(): string | null {
    return this.endpoints.lastEndpoint;
  }

  /** ZMQ_TYPE as a number (libzmq numbering). */
  get type(): number {
    return ["PAIR", "PUB", "SUB", "REQ", "REP", "DEALER", "ROUTER", "PULL", "PUSH", "XPUB", "XSUB"].indexOf(this.socketType);
  }

  /** Binds to an endpoint: tcp://host:port (port 0 or * = ephemeral), ipc://path, ipc://@name, inproc://name. */
  async bind(address: string): Promise<void> {
    this.checkOpen();
    await this.endpoints.bind(address);
  }

  /** Stops listening on an endpoint (the bound or the resolved address) and closes its connections. */
  async unbind(address: string): Promise<void> {
    this.checkOpen();
    await this.endpoints.unbind(address);
  }

  /** Connects to an endpoint; the connection is made (and remade) in the background. */
  connect(address: string): void {
    this.checkOpen();
    this.endpoints.connect(address, {});
  }

  /**
   * Stops connecting to an endpoint. Messages already queued for it are
   * flushed for up to `linger` ms, as on close(); new ones no longer go there.
   */
  disconnect(address: string): void {
    this.checkOpen();
    this.endpoints.disconnect(address);
  }

  /**
   * Closes the socket. Pending send/receive calls reject with EBADF. Messages
   * already queued to connected peers are flushed for up to `linger` ms
   * (-1: as long as the peer stays connected), then links are closed.
   */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    const error = new ClosedError();
    for (const waiter of this.senders.drain()) this.settle(waiter, () => waiter.reject(error));
    for (const waiter of this.receivers.drain()) this.settle(waiter, () => waiter.reject(error));
    this.endpoints.close(this.options.linger);
    this.xClose();
    this.events.emit({ type: "end" });
    this.events.close();
  }

  /** `using socket = new Push()` closes it at the end of the scope. */
  [Symbol.dispose](): void {
    this.close();
  }

  // --- send / receive ------------------------------------------------------

  /** @internal */
  protected sendMessage(message: MessageLike | MessageLike[]): Promise<void> {
    if (this.isClosed) return Promise.reject(new ClosedError());
    let frames: Buffer[];
    try {
      frames = toFrames(message);
      this.dropSettledSenders();
      if (this.senders.length === 0) {
        this.congested = false;
        if (this.xSend(frames)) {
          // A loop of `await send()` runs on resolved promises alone and would
          // starve the event loop: queued messages would never be written and
          // a publisher would drop everything past its high-water mark. When a
          // message had to queue, the promise resolves on the next turn
          // instead, so I/O runs between sends.
          if (this.congested && this.turn === undefined) {
            this.turn = nextTurn().then(() => {
              this.turn = undefined;
            });
          }
          // While a yield is pending, later sends share it: they resolve
          // after it, in call order.
          return this.turn ?? RESOLVED;
        }
      }
    } catch (error) {
      return Promise.reject(error);
    }
    const timeout = this.options.sendTimeout;
    if (timeout === 0) return Promise.reject(new AgainError());
    return new Promise<void>((resolve, reject) => {
      const waiter: SendWaiter = { frames, resolve, reject, timer: undefined, done: false };
      if (timeout > 0) {
        waiter.timer = this.clock.setTimeout(() => {
          waiter.timer = undefined;
          this.settle(waiter, () => reject(new AgainError("Socket is busy: send timed out")));
        }, timeout, true);
      }
      this.senders.push(waiter);
    });
  }

  /** @internal */
  protected receiveMessage(): Promise<Buffer[]> {
    if (this.isClosed) return Promise.reject(new ClosedError());
    if (this.receivers.length === 0) {
      const frames = this.xRecv();
      if (frames) return Promise.resolve(frames);
    }
    const timeout = this.options.receiveTimeout;
    if (timeout === 0) return Promise.reject(new AgainError());
    return new Promise<Buffer[]>((resolve, reject) => {
      const waiter: ReceiveWaiter = { resolve, reject, timer: undefined, done: false };
      if (timeout > 0) {
        waiter.timer = this.clock.setTimeout(() => {
          waiter.timer = undefined;
          this.settle(waiter, () => reject(new AgainError("Socket is busy: receive timed out")));
        }, timeout, true);
      }
      this.receivers.push(waiter);
    });
  }

  /** Async iteration over received messages; ends when the socket closes. */
  [Symbol.asyncIterator](): AsyncIterator<Buffer[], undefined> {
    const done: IteratorReturnResult<undefined> = { value: undefined, done: true };
    return {
      next: (): Promise<IteratorResult<Buffer[], undefined>> => {
        if (this.isClosed) return Promise.resolve(done);
        if (this.receivers.length === 0) {
          // Hot path: a message is waiting; one promise, no wrapper.
          const frames = this.xRecv();
          if (frames) return Promise.resolve({ value: frames, done: false });
        }
        return this.receiveMessage().then(
          (value) => ({ value, done: false }),
          (error: unknown) => {
            if (this.isClosed) return done;
            throw error;
          },
        );
      },
      return: (): Promise<IteratorResult<Buffer[], undefined>> => Promise.resolve(done),
    };
  }

  private settle(waiter: SendWaiter | ReceiveWaiter, action: () => void): void {
    if (waiter.done) return;
    waiter.done = true;
    if (waiter.timer !== undefined) this.clock.clearTimeout(waiter.timer);
    action();
  }

  /** @internal Hands waiting sends to the pattern while it takes them. */
  protected serveSenders(): void {
    for (;;) {
      const waiter = this.senders.peek();
      if (!waiter) return;
      if (waiter.done) {
        this.senders.shift();
        continue;
      }
      let accepted: boolean;
      try {
        accepted = this.xSend(waiter.frames);
      } catch (error) {
        this.senders.shift();
        this.settle(waiter, () => waiter.reject(error as SwitchboardError));
        continue;
      }
      if (!accepted) return;
      this.senders.shift();
      waiter.done = true;
      if (waiter.timer !== undefined) this.clock.clearTimeout(waiter.timer);
      // Not before sends that were accepted earlier and wait for a yield.
      if (this.turn) void this.turn.then(waiter.resolve);
      else waiter.resolve();
    }
  }

  /** @internal Hands received messages to waiting receivers. */
  protected serveReceivers(): void {
    // Taking a message can resume a link whose peer then writes into this
    // socket synchronously (inproc), which lands here again: the outer loop
    // serves those messages, in order.
    if (this.servingReceivers) return;
    this.servingReceivers = true;
    try {
      this.serveReceiversLoop();
    } finally {
      this.servingReceivers = false;
    }
  }

  private serveReceiversLoop(): void {
    for (;;) {
      const waiter = this.receivers.peek();
      if (!waiter) return;
      if (waiter.done) {
        this.receivers.shift();
        continue;
      }
      const frames = this.xRecv();
      if (!frames) return;
      this.receivers.shift();
      waiter.done = true;
      if (waiter.timer !== undefined) this.clock.clearTimeout(waiter.timer);
      waiter.resolve(frames);
    }
  }

  private checkOpen(): void {
    if (this.isClosed) throw new ClosedError();
  }

  // --- PipeOwner -----------------------------------------------------------

  /** @internal */
  pipeMessage(pipe: Pipe, frames: Buffer[]): void {
    if (this.isClosed) return;
    this.xMessage(pipe, frames);
    if (this.receivers.length > 0) this.serveReceivers();
  }

  /** @internal */
  pipeSubscription(pipe: Pipe, subscribe: boolean, topic: Buffer): void {
    if (!this.isClosed) this.xSubscription(pipe, subscribe, topic);
  }

  /** @internal */
  pipeWritable(_pipe: Pipe): void {
    if (this.senders.length > 0) this.serveSenders();
  }

  /** @internal */
  pipeLinkClosed(pipe: Pipe, error: SwitchboardError | undefined): void {
    this.xLinkDown(pipe);
    this.endpoints.linkClosed(pipe, error);
  }

  /** @internal Adds a pipe (and its link, when it has one); false when the pattern refuses the link. */
  addPipe(pipe: Pipe, link: Link | undefined): boolean {
    if (link && !this.xAccept(pipe, link)) return false;
    this.pipes.add(pipe);
    this.xAttach(pipe);
    if (link) this.linkUp(pipe, link);
    else if (this.senders.length > 0) this.serveSenders();
    return true;
  }

  /** @internal Gives an existing (connect-side) pipe a new link; false when the pattern refuses it. */
  attachLink(pipe: Pipe, link: Link): boolean {
    if (!this.pipes.has(pipe)) return this.addPipe(pipe, link);
    if (!this.xAccept(pipe, link)) return false;
    this.linkUp(pipe, link);
    return true;
  }

  private linkUp(pipe: Pipe, link: Link): void {
    pipe.attach(link);
    this.xLinkUp(pipe);
    if (this.senders.length > 0) this.serveSenders();
  }

  /** @internal Removes a pipe; queued outbound messages are dropped. */
  removePipe(pipe: Pipe): void {
    if (!this.pipes.delete(pipe)) return;
    pipe.alive = false;
    this.xDetach(pipe);
  }

  // --- pattern hooks -------------------------------------------------------

  /** Takes a message to send; false when it must wait. May throw (EFSM, EHOSTUNREACH...). */
  protected abstract xSend(frames: Buffer[]): boolean;
  /** Returns the next message for the application, if any. */
  protected abstract xRecv(): Buffer[] | undefined;
  /** An inbound message arrived on a pipe. */
  protected abstract xMessage(pipe: Pipe, frames: Buffer[]): void;
  protected xHasIn(): boolean {
    return false;
  }
  protected xHasOut(): boolean {
    return false;
  }
  /** Whether connect() creates the peer's queue before the connection is up (libzmq: !immediate, for load-balancing patterns). */
  /** @internal */
  xEagerPipes(): boolean {
    return false;
  }
  /** May veto a new link (PAIR takes one peer; ROUTER refuses duplicate ids). */
  protected xAccept(_pipe: Pipe, _link: Link): boolean {
    return true;
  }
  protected xAttach(_pipe: Pipe): void {}
  protected xDetach(_pipe: Pipe): void {}
  protected xLinkUp(_pipe: Pipe): void {}
  protected xLinkDown(_pipe: Pipe): void {}
  protected xSubscription(_pipe: Pipe, _subscribe: boolean, _topic: Buffer): void {}
  protected xClose(): void {}

  /** @internal Receivers may be waiting for a message that became available. */
  protected wakeReceivers(): void {
    if (this.receivers.length > 0) this.serveReceivers();
  }
}

export interface Socket extends CoreOptions {}

/** Defines validated option accessors on a prototype from a spec table. */
export function defineOptions(prototype: object, specs: Record<string, OptionSpec<unknown>>): void {
  for (const [name, s] of Object.entries(specs)) {
    Object.defineProperty(prototype, name, {
      configurable: true,
      enumerable: true,
      get(this: Socket) {
        const value = (this.options as unknown as Record<string, unknown>)[name];
        return value === undefined ? s.default : value;
      },
      set(this: Socket, value: unknown) {
        checkOption(name, value, s);
        (this.options as unknown as Record<string, unknown>)[name] = value;
      },
    });
  }
}

defineOptions(Socket.prototype, CORE_OPTIONS as unknown as Record<string, OptionSpec<unknown>>);
