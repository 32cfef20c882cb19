/**
 * The send side of a smart Socket: which connection a message goes to
 * (publish, round-robin, by identity), the buffer of messages no connection
 * can take yet, send() calls waiting for room, and at-least-once resends.
 *
 * Where a message waits, and the bound on each place:
 *
 * - `outbox`: messages without an identity that no connection can take (none
 *   connected, or all at their queue bound): at most `sendBufferSize`.
 * - `front`: messages to go out before the outbox: resends, and messages
 *   taken back from a lost connection. Bounded by what produces them
 *   (`maxPending`, and one connection queue).
 * - each connection's queue (see Peer): at most `peerQueueSize`.
 * - waiters: send() calls that found no room. Each is a caller awaiting its
 *   promise; with `sendTimeout` >= 0 they give up with EAGAIN.
 *
 * Order: messages to one destination (the outbox, or one identity) keep the
 * order of their send() calls; a send never overtakes an earlier waiting one
 * to the same destination.
 */
import { AgainError, ClosedError, HostUnreachableError, NotDeliveredError } from "../errors.js";
import { channels } from "../diagnostics.js";
import type { TimerHandle } from "../connection/clock.js";
import { Queue } from "../util/queue.js";
import type { OutMessage, Peer } from "./peer.js";
import { PendingSends, type PendingEntry } from "./reliable.js";
import type { ResolvedOptions } from "./options.js";

/** A message on the send side; also what a connection queues. */
interface Item extends OutMessage {
  readonly entry: PendingEntry | undefined;
}

const RESOLVED: Promise<void> = Promise.resolve();

/** What a waiting send resolves to once placed: at once (at-most-once), or on its ACK. */
function settled(entry: PendingEntry | undefined): Promise<void> | undefined {
  return entry?.done;
}

/** Where a waiting send wants to go: a connection (identity sends) or the shared outbox. */
type Gate = Peer | typeof OUTBOX;
const OUTBOX = Symbol("outbox");

interface Waiter {
  readonly payload: Buffer;
  readonly target: Peer | undefined;
  readonly identity: Buffer | undefined;
  resolve(entry: PendingEntry | undefined): void;
  reject(error: Error): void;
  timer: TimerHandle | undefined;
  /** Settled (placed, timed out or failed); a settled waiter still in its line is skipped. */
  settled: boolean;
}

export class Outbox {
  /** Connections that completed their HELLO exchange, in arrival order. */
  readonly peers: Peer[] = [];
  readonly byIdentity = new Map<string, Peer>();
  readonly pending: PendingSends;
  private readonly outbox = new Queue<Item>();
  private readonly front = new Queue<Item>();
  /** Waiting sends, one FIFO line per destination, so a send checks and joins its line in O(1). */
  private readonly lines = new Map<Gate, Queue<Waiter>>();
  /** Unsettled waiters over all lines. */
  private waiting = 0;
  private next = 0;
  private pumping = false;
  private again = false;
  private closedError: Error | undefined;
  private readonly reliable: boolean;

  /** `changed` runs whenever queued work may have shrunk (the socket's close() waits on it). */
  constructor(
    private readonly options: ResolvedOptions,
    private readonly changed: () => void,
  ) {
    this.reliable = options.delivery === "at-least-once";
    this.pending = new PendingSends(options.clock, options, (entry) => this.retry(entry));
  }

  /** Nothing waits to be sent or acknowledged. */
  get idle(): boolean {
    return this.outbox.length === 0 && this.front.length === 0 && this.waiting === 0
      && this.pending.size === 0 && this.peers.every((peer) => peer.flushed);
  }

  /** Messages held for lack of a connection (outbox and front). */
  get buffered(): number {
    return this.outbox.length + this.front.length;
  }

  /**
   * Sends one message. Resolves when it is accepted (at-most-once) or
   * acknowledged (at-least-once). Rejects: EHOSTUNREACH for an identity not
   * connected (or gone before the message could be queued), EAGAIN when no
   * room came within sendTimeout, ENOTDELIVERED when at-least-once retries
   * ran out, EBADF when the socket closed first.
   */
  send(payload: Buffer, identity: Buffer | undefined): Promise<void> {
    if (this.closedError !== undefined) return Promise.reject(this.closedError);
    let target: Peer | undefined;
    if (identity !== undefined) {
      target = this.byIdentity.get(identity.toString("hex"));
      if (target === undefined) {
        return Promise.reject(new HostUnreachableError(`No connected peer has identity ${identity.toString("hex")}`));
      }
    }
    const gate: Gate = target ?? OUTBOX;
    // With no unsettled waiter anywhere, every line is empty (settled ones are dropped later).
    const placed = this.waiting > 0 && this.lineLength(gate) > 0 ? false : this.place(payload, target, identity);
    if (placed === false) return this.wait(payload, target, identity).then(settled);
    if (target === undefined && this.buffered > 0 && this.movable()) this.pump();
    // Taken at once (the common case): no promise of our own for an at-most-once
    // message. An at-least-once caller gets a promise of its own, so one it
    // ignores still reports its failure as unhandled (`done` itself is marked handled).
    return placed === undefined ? RESOLVED : placed.done.then();
  }

  /** Takes a connection that completed its HELLO exchange. */
  add(peer: Peer, key: string): void {
    this.peers.push(peer);
    this.byIdentity.set(key, peer);
    this.pump();
  }

  /** A connection is gone: takes back what it never wrote, resends what it did not get acknowledged. */
  remove(peer: Peer, key: string, unsent: OutMessage[]): void {
    const index = this.peers.indexOf(peer);
    if (index < 0) return;
    this.peers.splice(index, 1);
    if (this.next > index) this.next--;
    if (this.byIdentity.get(key) === peer) this.byIdentity.delete(key);
    let dropped = 0;
    for (const message of unsent as Item[]) {
      if (message.entry !== undefined) {
        if (message.route === "identity") this.pending.skip(message.entry);
        else this.front.push(message);
      } else if (message.route === "roundrobin" || (message.route === "publish" && this.peers.length === 0)) {
        // Kept for the next connection (the connect end keeps its messages across a reconnect).
        this.front.push(message);
      } else {
        dropped++;
      }
    }
    if (dropped > 0 && channels.smartDrop.hasSubscribers) {
      channels.smartDrop.publish({ reason: "connection lost", count: dropped });
    }
    const line = this.lines.get(peer);
    if (line !== undefined) {
      this.lines.delete(peer);
      const gone = new HostUnreachableError(`The peer with identity ${key} went away`);
      for (let w = line.shift(); w !== undefined; w = line.shift()) this.settle(w, gone);
    }
    this.pending.carrierLost(peer);
    this.pump();
  }

  /** Moves buffered messages to connections with room, then lets waiting sends in; repeats while that makes progress. */
  pump(): void {
    if (this.closedError !== undefined) return;
    // Re-entry (a resend or a room event while pumping) only asks the running pump for another round.
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.again = false;
        this.drain();
        this.wake();
      } while (this.again && this.closedError === undefined);
    } finally {
      this.pumping = false;
    }
    this.changed();
  }

  private drain(): void {
    for (;;) {
      const queue = this.front.length > 0 ? this.front : this.outbox;
      const item = queue.peek();
      if (item === undefined) break;
      if (item.entry !== undefined && !this.pending.has(item.entry)) {
        queue.shift(); // acknowledged (or failed) while it waited for a resend
        continue;
      }
      if (item.route === "publish") {
        if (this.peers.length === 0 || !this.peers.every((peer) => peer.hasRoom)) break;
        for (const peer of this.peers) peer.send(item);
      } else {
        const peer = this.nextPeer();
        if (peer === undefined) break;
        peer.send(item);
      }
      queue.shift();
    }
  }

  /** Fails every waiting send and unacknowledged message; forgets buffered ones. */
  close(): void {
    if (this.closedError !== undefined) return;
    const closed = new ClosedError();
    this.closedError = closed;
    for (const line of this.lines.values()) {
      for (let w = line.shift(); w !== undefined; w = line.shift()) this.settle(w, closed);
    }
    this.lines.clear();
    this.pending.failAll(new NotDeliveredError("the socket closed before the message was acknowledged"));
    let dropped = 0;
    for (const queue of [this.front, this.outbox]) {
      for (const item of queue.drain()) if (item.entry === undefined) dropped++;
    }
    if (dropped > 0 && channels.smartDrop.hasSubscribers) {
      channels.smartDrop.publish({ reason: "socket closed", count: dropped });
    }
  }

  // ------------------------------------------------------------------ internals

  /** Queues the message if there is room now. Returns false if not, else its pending entry (at-least-once) or undefined. */
  private place(payload: Buffer, target: Peer | undefined, identity: Buffer | undefined): PendingEntry | undefined | false {
    if (this.reliable && this.pending.size >= this.options.maxPending) return false;
    if (target !== undefined ? !target.hasRoom : this.buffered >= this.options.sendBufferSize) return false;
    const entry = this.reliable ? this.pending.create(payload, identity) : undefined;
    const route = target !== undefined ? "identity" : this.options.sendMode;
    const item = this.item(payload, route, entry);
    if (target !== undefined) {
      target.send(item);
    } else if (route === "roundrobin" && this.outbox.length === 0 && this.front.length === 0 && this.nextPeerWithRoom()) {
      // Nothing waits before it: straight to the next connection with room,
      // as the pump would move it.
      this.peers[this.next]!.send(item);
      this.next = (this.next + 1) % this.peers.length;
    } else {
      // The caller pumps (send) or is the pump (wake).
      this.outbox.push(item);
      this.again = true;
    }
    return entry;
  }

  private item(payload: Buffer, route: Item["route"], entry: PendingEntry | undefined): Item {
    if (entry === undefined) return { payload, route, entry };
    return { payload, route, entry, id: entry.id, written: (peer) => this.pending.written(entry, peer) };
  }

  private wait(payload: Buffer, target: Peer | undefined, identity: Buffer | undefined): Promise<PendingEntry | undefined> {
    const { sendTimeout, clock } = this.options;
    if (sendTimeout === 0) return Promise.reject(this.noRoom(target));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { payload, target, identity, resolve, reject, timer: undefined, settled: false };
      if (sendTimeout > 0) {
        waiter.timer = clock.setTimeout(() => {
          waiter.timer = undefined;
          this.settle(waiter, this.noRoom(target));
          this.pump(); // a later send to the same destination may fit now that this one left the line
        }, sendTimeout, true);
      }
      const gate: Gate = target ?? OUTBOX;
      let line = this.lines.get(gate);
      if (line === undefined) this.lines.set(gate, (line = new Queue<Waiter>()));
      line.push(waiter);
      this.waiting++;
    });
  }

  /** The length of `gate`'s line once settled waiters are dropped from its head: 0 when nobody waits there. */
  private lineLength(gate: Gate): number {
    const line = this.lines.get(gate);
    if (line === undefined) return 0;
    while (line.peek()?.settled === true) line.shift();
    if (line.length === 0) this.lines.delete(gate);
    return line.length;
  }

  private noRoom(target: Peer | undefined): AgainError {
    return new AgainError(target !== undefined
      ? "the peer's queue is full (sendTimeout reached)"
      : "the send buffer is full (sendTimeout reached)");
  }

  /** Lets waiting sends in, in order per destination: each line advances while its head fits. */
  private wake(): void {
    if (this.waiting === 0) return;
    for (const [gate, line] of this.lines) {
      if (this.reliable && this.pending.size >= this.options.maxPending) return; // no line can move
      for (;;) {
        if (this.lineLength(gate) === 0) break;
        const waiter = line.peek()!;
        const placed = this.place(waiter.payload, waiter.target, waiter.identity);
        if (placed === false) break;
        line.shift();
        this.settle(waiter, undefined, placed);
      }
    }
  }

  private settle(waiter: Waiter, error: Error | undefined, entry?: PendingEntry): void {
    if (waiter.settled) return;
    waiter.settled = true;
    this.waiting--;
    if (waiter.timer !== undefined) this.options.clock.clearTimeout(waiter.timer);
    waiter.timer = undefined;
    if (error !== undefined) waiter.reject(error);
    else waiter.resolve(entry);
  }

  private nextPeer(): Peer | undefined {
    if (!this.nextPeerWithRoom()) return undefined;
    const peer = this.peers[this.next]!;
    this.next = (this.next + 1) % this.peers.length;
    return peer;
  }

  /**
   * Whether buffered messages could move to a connection now. Outside a pump
   * they normally cannot (every event that makes room pumps), so a send that
   * joins a full buffer skips the pump.
   */
  private movable(): boolean {
    if (this.options.sendMode === "publish") return this.peers.length > 0 && this.peers.every((peer) => peer.hasRoom);
    return this.nextPeerWithRoom();
  }

  /** Moves the round-robin cursor to the next connection with room; false (cursor unchanged) when none has room. */
  private nextPeerWithRoom(): boolean {
    const peers = this.peers;
    for (let i = 0; i < peers.length; i++) {
      const index = (this.next + i) % peers.length;
      if (peers[index]!.hasRoom) {
        this.next = index;
        return true;
      }
    }
    return false;
  }

  /** An at-least-once message is due for another transmission. */
  private retry(entry: PendingEntry): void {
    if (entry.identity === undefined) {
      this.front.push(this.item(entry.payload, "roundrobin", entry));
      this.pump();
      return;
    }
    const peer = this.byIdentity.get(entry.identity.toString("hex"));
    if (peer !== undefined && peer.hasRoom) peer.send(this.item(entry.payload, "identity", entry));
    else this.pending.skip(entry);
  }
}
