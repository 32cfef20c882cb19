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
 * resumes when recv() makes room.
 */
import { ClosedError } from "../errors.js";
import type { Clock } from "../connection/clock.js";
import { Queue } from "../util/queue.js";
import type { Peer } from "./peer.js";
import { DedupWindow } from "./reliable.js";

interface Received {
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

  constructor(
    private readonly size: number,
    clock: Clock,
    dedupSize: number,
    dedupTime: number,
    private readonly hooks: InboxHooks,
  ) {
    this.delivered = new DedupWindow(clock, dedupSize, dedupTime);
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
    const item = this.queue.shift();
    if (item === undefined) {
      return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
    }
    this.deliver(item);
    if (this.paused && !this.full) {
      this.paused = false;
      this.hooks.resume();
    }
    return Promise.resolve([item.identity, item.payload]);
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
