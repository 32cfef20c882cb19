/**
 * A Pipe is the socket's view of one peer: an outbound queue bounded by the
 * send high-water mark, an inbound queue bounded by the receive high-water
 * mark, and the live {@link Link} when there is one.
 *
 * On the connect side (without `immediate`) the pipe exists from connect()
 * on and survives reconnects, so messages sent before the peer is up, or
 * while it reconnects, wait in it (libzmq semantics, digest §6.2). On the
 * bind side a pipe lives and dies with its link.
 *
 * ```
 *   send() -> [out queue] --(link writable)--> link.write()      (bounded: sendHighWaterMark)
 *   link --onMessage--> [in queue] --> receive()                  (bounded: receiveHighWaterMark, via link.pause())
 * ```
 */
import type { SwitchboardError } from "../errors.js";
import type { Clock, TimerHandle } from "../connection/clock.js";
import type { Link, LinkHandler } from "../connection/link.js";
import { Queue } from "../util/queue.js";
import type { FrameFill } from "../wire/encoder.js";
import type { SubscriptionSet } from "./subscriptions.js";

/** What a pipe reports to its socket. */
export interface PipeOwner {
  pipeMessage(pipe: Pipe, frames: Buffer[]): void;
  pipeSubscription(pipe: Pipe, subscribe: boolean, topic: Buffer): void;
  pipeWritable(pipe: Pipe): void;
  pipeLinkClosed(pipe: Pipe, error: SwitchboardError | undefined): void;
  readonly sendHighWaterMark: number;
  readonly receiveHighWaterMark: number;
  /** Set when a message had to wait in a queue instead of going to its link. */
  congested: boolean;
  /** ZMQ_CONFLATE: queues keep only the latest message. */
  readonly conflate?: boolean;
}

let nextPipeId = 1;

/** A sender yields to the event loop after this many messages queued on one pipe (a power of two). */
const YIELD_EVERY = 64;

export class Pipe implements LinkHandler {
  readonly id = nextPipeId++;
  link: Link | undefined;
  readonly out = new Queue<Buffer[]>();
  readonly inbox = new Queue<Buffer[]>();
  /** The routing id this peer is known by (Router). */
  routingId: Buffer | undefined;
  /** Pattern state hung on the pipe (subscriptions of a publisher's peer...). */
  subscriptions: SubscriptionSet | undefined;
  private paused = false;
  /** letGo() was called: the link is flushing, then closing. */
  private lettingGo = false;
  private lingerTimer: TimerHandle | undefined;
  private lingerClock: Clock | undefined;
  /** Whether the pipe is in its socket's fair-queue ring. */
  inRing = false;
  /** False once the pipe was removed from its socket. */
  alive = true;

  /** High-water marks and conflation, fixed when the pipe is made (as libzmq does). */
  private readonly sendHwm: number;
  private readonly receiveHwm: number;
  private readonly conflate: boolean;

  constructor(
    private readonly owner: PipeOwner,
    /** The endpoint this pipe belongs to. */
    readonly address: string,
    /** Connect-side pipes survive link loss. */
    readonly persistent: boolean,
  ) {
    this.sendHwm = owner.sendHighWaterMark;
    this.receiveHwm = owner.receiveHighWaterMark;
    this.conflate = owner.conflate === true;
  }

  /** True when a message can be accepted now without exceeding the high-water mark. */
  get hasRoom(): boolean {
    const hwm = this.sendHwm;
    return hwm === 0 || this.out.length < hwm;
  }

  /** Accepts a message if the high-water mark allows; returns false otherwise. */
  trySend(frames: Buffer[]): boolean {
    const link = this.link;
    if (link !== undefined && this.out.length === 0 && link.writable) {
      link.write(frames);
      return true;
    }
    if (this.conflate) {
      this.out.clear();
      this.out.push(frames);
      return true;
    }
    const hwm = this.sendHwm;
    if (hwm !== 0 && this.out.length >= hwm) return false;
    this.out.push(frames);
    // Ask the sender to yield to the event loop once per batch of queued
    // messages, so the queue can drain into the link (see Socket.sendMessage).
    if ((this.out.length & (YIELD_EVERY - 1)) === 1) this.owner.congested = true;
    return true;
  }

  /**
   * Writes a one-frame message straight into the link, filled in place, when
   * that keeps the order: the link takes writes, nothing is queued before it,
   * and the link can write in place. False otherwise (nothing was written).
   */
  trySendWith(size: number, fill: FrameFill): boolean {
    const link = this.link;
    if (link === undefined || this.out.length !== 0 || !link.writable || link.writeWith === undefined) return false;
    link.writeWith(size, fill);
    return true;
  }

  /** Moves queued messages into the link while it takes them. */
  pump(): void {
    const link = this.link;
    if (!link) return;
    while (this.out.length > 0 && link.writable) link.write(this.out.shift()!);
  }

  /**
   * Lets go of the link: what is queued is flushed for up to `linger` ms
   * (-1: as long as the link lives; 0: dropped at once), then the link is
   * closed. Used by close(), disconnect() and unbind().
   */
  letGo(linger: number, clock: Clock): void {
    const link = this.link;
    if (!link || linger === 0) {
      link?.destroy();
      return;
    }
    this.lettingGo = true;
    if (linger > 0) this.lingerTimer = clock.setTimeout(() => link.destroy(), linger);
    this.lingerClock = clock;
    this.pump();
    if (this.out.length === 0) link.close();
  }

  attach(link: Link): void {
    this.link = link;
    this.paused = false;
    link.setHandler(this);
    this.pump();
  }

  /** Takes one inbound message, resuming the link when the queue drains below the mark. */
  take(): Buffer[] | undefined {
    const message = this.inbox.shift();
    if (this.paused && this.inbox.length < Math.max(1, this.receiveHwm >> 1)) {
      this.paused = false;
      this.link?.resume();
    }
    return message;
  }

  /** Queues an inbound message, pausing the link at the receive high-water mark. */
  queueInbound(frames: Buffer[]): void {
    if (this.conflate) this.inbox.clear();
    this.inbox.push(frames);
    const hwm = this.receiveHwm;
    if (hwm !== 0 && !this.paused && this.inbox.length >= hwm) {
      this.paused = true;
      this.link?.pause();
    }
  }

  // --- LinkHandler ---------------------------------------------------------

  onMessage(frames: Buffer[]): void {
    this.owner.pipeMessage(this, frames);
  }

  onSubscription(subscribe: boolean, topic: Buffer): void {
    this.owner.pipeSubscription(this, subscribe, topic);
  }

  onDrain(): void {
    this.pump();
    if (this.lettingGo) {
      if (this.out.length === 0) this.link?.close();
      return;
    }
    if (this.link?.writable) this.owner.pipeWritable(this);
  }

  onClose(error: SwitchboardError | undefined): void {
    if (this.lingerTimer !== undefined) this.lingerClock?.clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    this.link = undefined;
    this.paused = false;
    this.owner.pipeLinkClosed(this, error);
  }
}
