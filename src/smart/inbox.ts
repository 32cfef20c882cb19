/**
 * The receive side of a smart Socket: one queue that merges the messages of
 * every connection, the recv() waiters, duplicate suppression and the ACK of
 * at-least-once messages.
 *
 * Delivery, precisely: a message is *delivered* when recv()/recvIdentity()
 * resolves with it, or when a messages()/identityMessages() iterator's
 * next() resolves with it. For a DATA_REQ the ACK is queued at that moment
 * (it leaves with the next write batch, in the same event-loop turn), on the
 * connection the latest copy arrived on. A message still in the queue when
 * the socket closes was never delivered and is not acknowledged, so its
 * sender resends it elsewhere.
 *
 * Duplicates: a DATA_REQ whose id is still waiting in the queue is dropped
 * (the ACK will follow its delivery); one whose id was delivered within the
 * dedup window is dropped and acknowledged again at once, since the first
 * ACK evidently got lost.
 *
 * Bound: at most `size` messages wait. Once the queue is full every
 * connection stops reading (TCP back-pressure reaches the senders); reading
 * resumes once recv() has emptied it to half its size. Resuming at the first
 * free slot would pause and resume every connection once per message while
 * the application reads more slowly than the peers send.
 */
import { ClosedError } from "../errors.js";
import type { Clock } from "../connection/clock.js";
import { Queue } from "../util/queue.js";
import type { Peer } from "./peer.js";
import { DedupWindow } from "./reliable.js";

export interface Received {
  readonly identity: Buffer;
  readonly payload: Buffer;
  /** At-least-once: the message id, its key, and where to send the ACK. */
  readonly id: Buffer | undefined;
  readonly key: string;
  ackPeer: Peer | undefined;
}

interface Waiter {
  resolve(item: [Buffer, Buffer]): void;
  reject(error: Error): void;
}

export interface InboxHooks {
  /** The queue is full: stop reading from every connection. */
  pause(): void;
  /** The queue has room again. */
  resume(): void;
}

export class Inbox {
  private readonly queue = new Queue<Received>();
  private readonly waiters = new Queue<Waiter>();
  /** At-least-once messages waiting in the queue, by id key. */
  private readonly waiting = new Map<string, Received>();
  private readonly delivered: DedupWindow;
  private paused = false;
  private closedError: Error | undefined;
  /** Reading resumes when the queue is down to this many messages. */
  private readonly resumeAt: number;

  constructor(
    private readonly size: number,
    clock: Clock,
    dedupSize: number,
    dedupTime: number,
    private readonly hooks: InboxHooks,
  ) {
    this.delivered = new DedupWindow(clock, dedupSize, dedupTime);
    this.resumeAt = Math.floor(size / 2);
  }

  /** Whether the queue is full (connections should not read). */
  get full(): boolean {
    return this.queue.length >= this.size;
  }

  /** Messages waiting for recv(). */
  get length(): number {
    return this.queue.length;
  }

  /** A message arrived on `peer` (`id` set for a DATA_REQ). */
  push(peer: Peer, payload: Buffer, id: Buffer | undefined): void {
    if (this.closedError !== undefined) return;
    let key = "";
    if (id !== undefined) {
      key = id.toString("hex");
      if (this.delivered.has(key)) {
        peer.sendAck(id);
        return;
      }
      const queued = this.waiting.get(key);
      if (queued !== undefined) {
        queued.ackPeer = peer;
        return;
      }
    }
    const item: Received = { identity: peer.identity!, payload, id, key, ackPeer: id === undefined ? undefined : peer };
    const waiter = this.waiters.shift();
    if (waiter !== undefined) {
      this.deliver(item);
      waiter.resolve([item.identity, item.payload]);
      return;
    }
    this.queue.push(item);
    if (id !== undefined) this.waiting.set(key, item);
    if (!this.paused && this.full) {
      this.paused = true;
      this.hooks.pause();
    }
  }

  /** The next message as [identity, payload]; rejects with ClosedError (EBADF) once closed. */
  receive(): Promise<[Buffer, Buffer]> {
    if (this.closedError !== undefined) return Promise.reject(this.closedError);
    const item = this.poll();
    if (item === undefined) {
      return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
    }
    return Promise.resolve([item.identity, item.payload]);
  }

  /** The next queued message, delivered now; undefined when none is queued (or the inbox is closed). */
  poll(): Received | undefined {
    if (this.closedError !== undefined) return undefined;
    const item = this.queue.shift();
    if (item === undefined) return undefined;
    this.deliver(item);
    if (this.paused && this.queue.length <= this.resumeAt) {
      this.paused = false;
      this.hooks.resume();
    }
    return item;
  }

  /** Fails waiting and later receives with `error`, and forgets queued messages (they were not delivered, so not acknowledged). */
  close(error: Error = new ClosedError()): void {
    if (this.closedError !== undefined) return;
    this.closedError = error;
    this.queue.clear();
    this.waiting.clear();
    for (let w = this.waiters.shift(); w !== undefined; w = this.waiters.shift()) w.reject(error);
  }

  private deliver(item: Received): void {
    if (item.id === undefined) return;
    this.waiting.delete(item.key);
    this.delivered.add(item.key);
    const peer = item.ackPeer;
    if (peer !== undefined && !peer.closed) peer.sendAck(item.id);
  }
}

const DONE: IteratorReturnResult<void> = Object.freeze({ value: undefined, done: true });

/**
 * The iterator behind the socket's messages() and identityMessages(): an
 * AsyncGenerator written out by hand, with the contract of the generator
 * function it replaces (next() delivers the next message, the iteration
 * ends once the socket closes, return() and throw() finish it). A generator
 * function costs several promise turns per message; this resolves at once
 * from a queued message.
 */
export class InboxIterator<T> implements AsyncGenerator<T, void, undefined> {
  private finished = false;

  /**
   * `pick` shapes a message for the caller; `ended(error)` tells whether a
   * receive error means the socket closed (the iteration ends) rather than a
   * failure to pass on.
   */
  constructor(
    private readonly inbox: Inbox,
    private readonly pick: (identity: Buffer, payload: Buffer) => T,
    private readonly ended: (error: unknown) => boolean,
  ) {}

  next(): Promise<IteratorResult<T, void>> {
    if (this.finished) return Promise.resolve(DONE);
    const item = this.inbox.poll();
    if (item !== undefined) return Promise.resolve({ value: this.pick(item.identity, item.payload), done: false });
    return this.inbox.receive().then(
      ([identity, payload]) => ({ value: this.pick(identity, payload), done: false }),
      (error: unknown) => {
        this.finished = true;
        if (this.ended(error)) return DONE;
        throw error;
      },
    );
  }

  return(): Promise<IteratorResult<T, void>> {
    this.finished = true;
    return Promise.resolve(DONE);
  }

  throw(error: unknown): Promise<IteratorResult<T, void>> {
    this.finished = true;
    return Promise.reject(error);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.return();
  }
}
