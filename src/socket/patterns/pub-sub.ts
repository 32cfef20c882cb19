/**
 * PUB, XPUB, SUB and XSUB (RFC 29, digest §2.10).
 *
 * Filtering happens at the publisher: each peer's subscriptions are a
 * counted set of prefixes of the first frame. A publisher never waits: a
 * peer at its high-water mark misses the message (reported on the
 * `switchboard:socket:drop` diagnostics channel). Subscribers send their
 * whole subscription set again on every new connection, as SUBSCRIBE
 * commands to ZMTP 3.1 peers and as legacy `\x01topic` messages to 3.0 peers;
 * publishers accept both forms from everyone.
 */
import { AgainError } from "../../errors.js";
import { channels } from "../../diagnostics.js";
import { FairQueue } from "../fair-queue.js";
import type { MessageLike } from "../message.js";
import { toFrame } from "../message.js";
import { boolSpec, type ConflateOption, type OptionSpec } from "../options.js";
import type { Pipe } from "../pipe.js";
import { Socket, defineOptions } from "../socket.js";
import { SubscriptionSet } from "../subscriptions.js";
import type { SocketOptions } from "./types.js";

/** The message an XPUB application sees for a subscription: 0x01 or 0x00, then the topic. */
function subscriptionFrame(subscribe: boolean, topic: Buffer): Buffer {
  const frame = Buffer.allocUnsafe(topic.length + 1);
  frame[0] = subscribe ? 1 : 0;
  topic.copy(frame, 1);
  return frame;
}

/** A legacy subscription message: one frame starting with 0x01 (subscribe) or 0x00 (cancel). */
function isSubscriptionMessage(frames: Buffer[]): boolean {
  const first = frames[0];
  return frames.length === 1 && first !== undefined && first.length > 0 && (first[0] === 0 || first[0] === 1);
}

export interface PublisherOptions {
  /** ZMQ_XPUB_NODROP: wait (or fail after sendTimeout) instead of dropping for a peer at its high-water mark. */
  noDrop: boolean;
  /** ZMQ_INVERT_MATCHING: send to the peers whose subscriptions do NOT match. */
  invertMatching: boolean;
}

abstract class PublisherBase extends Socket {
  /** An array, not a Set: walked on every send. */
  protected readonly subscribers: Pipe[] = [];

  send(message: MessageLike | MessageLike[]): Promise<void> {
    return this.sendMessage(message);
  }

  protected xSend(frames: Buffer[]): boolean {
    const opts = this as unknown as PublisherOptions;
    const invert = opts.invertMatching;
    const first = frames[0];
    const subscribers = this.subscribers;
    if (opts.noDrop) {
      for (let i = 0; i < subscribers.length; i++) {
        const pipe = subscribers[i]!;
        if (pipe.link && pipe.subscriptions!.matches(first) !== invert && !pipe.hasRoom) return false;
      }
    }
    for (let i = 0; i < subscribers.length; i++) {
      const pipe = subscribers[i]!;
      if (pipe.subscriptions!.matches(first) === invert) continue;
      if (!pipe.trySend(frames)) {
        // Yield to the event loop (see Socket.sendMessage): a loop of sends
        // that only drops would otherwise never let the queue drain.
        this.congested = true;
        if (channels.drop.hasSubscribers) {
          channels.drop.publish({ socketType: this.socketType, reason: "subscriber at high-water mark", frames });
        }
      }
    }
    return true;
  }

  protected override xHasOut(): boolean {
    return true;
  }
  protected override xAttach(pipe: Pipe): void {
    pipe.subscriptions = new SubscriptionSet();
    this.subscribers.push(pipe);
  }
  protected override xDetach(pipe: Pipe): void {
    const index = this.subscribers.indexOf(pipe);
    if (index >= 0) this.subscribers.splice(index, 1);
  }

  protected xMessage(pipe: Pipe, frames: Buffer[]): void {
    if (isSubscriptionMessage(frames)) {
      const body = frames[0]!;
      this.xSubscription(pipe, body[0] === 1, body.subarray(1));
    } else {
      this.upstream(pipe, frames);
    }
  }

  /** A message from a subscriber that is not a subscription. */
  protected abstract upstream(pipe: Pipe, frames: Buffer[]): void;

  protected override xSubscription(pipe: Pipe, subscribe: boolean, topic: Buffer): void {
    const set = pipe.subscriptions;
    if (!set) return;
    const changed = subscribe ? set.add(topic) : set.remove(topic);
    this.subscriptionChanged(subscribe, topic, changed);
  }

  protected subscriptionChanged(_subscribe: boolean, _topic: Buffer, _changed: boolean): void {}
}

export class Publisher extends PublisherBase {
  constructor(options?: SocketOptions<Publisher>) {
    super("PUB", options);
  }

  protected xRecv(): undefined {
    return undefined;
  }
  protected upstream(): void {}
}

export interface Publisher extends PublisherOptions {}
const publisherOptions: Record<string, OptionSpec<unknown>> = { noDrop: boolSpec(false), invertMatching: boolSpec(false) };
defineOptions(Publisher.prototype, publisherOptions);

export type XPublisherVerbosity = null | "allSubs" | "allSubsUnsubs";

/**
 * XPUB: a publisher that also receives its subscribers' subscriptions
 * (`\x01topic` / `\x00topic`) and any other message they send upstream.
 * By default only the first subscription to a topic and the last
 * unsubscription are delivered; `verbosity` changes that.
 */
export class XPublisher extends PublisherBase {
  private readonly fq = new FairQueue();
  /** Subscriptions over all peers, to tell first/last apart. */
  private readonly all = new SubscriptionSet();

  constructor(options?: SocketOptions<XPublisher>) {
    super("XPUB", options);
  }

  receive(): Promise<Buffer[]> {
    return this.receiveMessage();
  }

  protected xRecv(): Buffer[] | undefined {
    return this.fq.next();
  }
  protected override xHasIn(): boolean {
    return this.fq.size > 0;
  }
  /**
   * With `manual` set: subscribes the peer whose message was received last
   * (normally its `\x01topic` subscription message) to each topic; a
   * subscription can so be rewritten or refused (ZMQ_XPUB_MANUAL with
   * ZMQ_SUBSCRIBE). Without `manual`, subscriptions apply by themselves.
   */
  subscribe(...topics: Array<Buffer | string>): void {
    this.manualChange(true, topics);
  }

  /** With `manual` set: cancels one subscription per topic for the peer whose message was received last. */
  unsubscribe(...topics: Array<Buffer | string>): void {
    this.manualChange(false, topics);
  }

  private manualChange(subscribe: boolean, topics: Array<Buffer | string>): void {
    const pipe = this.fq.lastPipe;
    const set = pipe?.alive ? pipe.subscriptions : undefined;
    if (!set) return;
    for (const topic of topics.length === 0 ? [""] : topics) {
      if (subscribe) set.add(toFrame(topic));
      else set.remove(toFrame(topic));
    }
  }

  private pending: Pipe | undefined;
  protected override xSubscription(pipe: Pipe, subscribe: boolean, topic: Buffer): void {
    if ((this as unknown as XPublisherOptions).manual) {
      // Every subscription message reaches the application, and nothing
      // applies until it calls subscribe()/unsubscribe().
      this.fq.push(pipe, [subscriptionFrame(subscribe, topic)]);
      this.wakeReceivers();
      return;
    }
    this.pending = pipe;
    super.xSubscription(pipe, subscribe, topic);
    this.pending = undefined;
  }
  protected override subscriptionChanged(subscribe: boolean, topic: Buffer, _changed: boolean): void {
    const unique = subscribe ? this.all.add(topic) : this.all.remove(topic);
    const verbosity = (this as unknown as XPublisherOptions).verbosity;
    const show = subscribe ? unique || verbosity !== null : unique || verbosity === "allSubsUnsubs";
    if (show && this.pending) {
      this.fq.push(this.pending, [subscriptionFrame(subscribe, topic)]);
      this.wakeReceivers();
    }
  }
  protected upstream(pipe: Pipe, frames: Buffer[]): void {
    this.fq.push(pipe, frames);
  }
  protected override xAttach(pipe: Pipe): void {
    super.xAttach(pipe);
    const welcome = (this as unknown as XPublisherOptions).welcomeMessage;
    if (welcome !== null) pipe.trySend([toFrame(welcome)]);
  }
  protected override xDetach(pipe: Pipe): void {
    super.xDetach(pipe);
    if ((this as unknown as XPublisherOptions).manual) return;
    // Topics whose last subscriber left are reported as unsubscriptions.
    for (const topic of pipe.subscriptions?.topics() ?? []) {
      if (this.all.remove(topic)) {
        this.fq.push(pipe, [subscriptionFrame(false, topic)]);
        this.wakeReceivers();
      }
    }
  }
}

export interface XPublisherOptions extends PublisherOptions {
  /**
   * ZMQ_XPUB_VERBOSE / ZMQ_XPUB_VERBOSER: null (default) delivers only the first
   * subscription to a topic and the last unsubscription; "allSubs" every
   * subscription; "allSubsUnsubs" every subscription and unsubscription.
   */
  verbosity: XPublisherVerbosity;
  /** ZMQ_XPUB_WELCOME_MSG: a message sent to every new subscriber. */
  welcomeMessage: string | null;
  /**
   * ZMQ_XPUB_MANUAL: deliver every subscription message to the application
   * and apply none by itself; the application applies them with
   * subscribe()/unsubscribe(), which act on the peer it received from last.
   */
  manual: boolean;
}

export interface XPublisher extends XPublisherOptions {}
defineOptions(XPublisher.prototype, {
  ...publisherOptions,
  manual: boolSpec(false),
  verbosity: {
    default: null,
    check: (v: unknown): v is XPublisherVerbosity => v === null || v === "allSubs" || v === "allSubsUnsubs",
    describe: 'null, "allSubs" or "allSubsUnsubs"',
  },
  welcomeMessage: {
    default: null,
    check: (v: unknown): v is string | null => v === null || typeof v === "string",
    describe: "null or a string",
  },
});

abstract class SubscriberBase extends Socket {
  protected readonly fq = new FairQueue();
  protected readonly subscriptions = new SubscriptionSet();
  protected readonly publishers = new Set<Pipe>();

  receive(): Promise<Buffer[]> {
    return this.receiveMessage();
  }

  protected xRecv(): Buffer[] | undefined {
    return this.fq.next();
  }
  protected override xHasIn(): boolean {
    return this.fq.size > 0;
  }
  protected override xAttach(pipe: Pipe): void {
    this.publishers.add(pipe);
  }
  protected override xDetach(pipe: Pipe): void {
    this.publishers.delete(pipe);
  }
  protected override xLinkUp(pipe: Pipe): void {
    this.resubscribe(pipe);
  }
  protected abstract resubscribe(pipe: Pipe): void;
}

/** SUB: receives the messages whose first frame starts with a subscribed prefix. */
export class Subscriber extends SubscriberBase {
  constructor(options?: SocketOptions<Subscriber>) {
    // libzmq's subscribers do not linger: pending subscriptions are not worth a wait.
    super("SUB", options, { linger: 0 });
  }

  /** Subscribes to messages starting with each prefix; no argument subscribes to everything. */
  subscribe(...prefixes: Array<Buffer | string>): void {
    if (prefixes.length === 0) prefixes = [""];
    for (const prefix of prefixes) {
      const topic = toFrame(prefix);
      if (!this.subscriptions.add(topic)) continue;
      for (const pipe of this.publishers) pipe.link?.sendSubscription(true, topic);
    }
  }

  /** Cancels one subscription per prefix; no argument cancels the subscription to everything. */
  unsubscribe(...prefixes: Array<Buffer | string>): void {
    if (prefixes.length === 0) prefixes = [""];
    for (const prefix of prefixes) {
      const topic = toFrame(prefix);
      if (!this.subscriptions.remove(topic)) continue;
      for (const pipe of this.publishers) pipe.link?.sendSubscription(false, topic);
    }
  }

  protected xSend(): boolean {
    throw new AgainError("Subscriber sockets cannot send");
  }
  protected xMessage(pipe: Pipe, frames: Buffer[]): void {
    // Filter here too: a publisher may have sent before our cancel reached it.
    if (this.subscriptions.matches(frames[0]) !== (this as unknown as SubscriberOptions).invertMatching) {
      this.fq.push(pipe, frames);
    }
  }
  protected resubscribe(pipe: Pipe): void {
    for (const topic of this.subscriptions.topics()) pipe.link?.sendSubscription(true, topic);
  }
}

/**
 * XSUB: subscriptions are sent as messages (`\x01topic`, `\x00topic`), and
 * any other message is passed upstream to every publisher. Nothing is
 * filtered on receipt.
 */
export class XSubscriber extends SubscriberBase {
  constructor(options?: SocketOptions<XSubscriber>) {
    super("XSUB", options, { linger: 0 });
  }

  send(message: MessageLike | MessageLike[]): Promise<void> {
    return this.sendMessage(message);
  }

  protected xSend(frames: Buffer[]): boolean {
    if (isSubscriptionMessage(frames)) {
      const body = frames[0]!;
      const topic = body.subarray(1);
      // As libzmq: every subscribe goes upstream (verbose XPUBs count them); a cancel only when it was the last.
      if (body[0] === 1) this.subscriptions.add(topic);
      else if (!this.subscriptions.remove(topic)) return true;
    }
    for (const pipe of this.publishers) pipe.trySend(frames);
    return true;
  }
  protected override xHasOut(): boolean {
    return true;
  }
  protected xMessage(pipe: Pipe, frames: Buffer[]): void {
    this.fq.push(pipe, frames);
  }
  protected resubscribe(pipe: Pipe): void {
    for (const topic of this.subscriptions.topics()) pipe.trySend([subscriptionFrame(true, topic)]);
  }
}

export interface Publisher extends ConflateOption {}
defineOptions(Publisher.prototype, { conflate: boolSpec(false) });

export interface SubscriberOptions extends ConflateOption {
  /** ZMQ_INVERT_MATCHING: receive the messages that match NO subscription (use with an inverted publisher). */
  invertMatching: boolean;
}
export interface Subscriber extends SubscriberOptions {}
defineOptions(Subscriber.prototype, { conflate: boolSpec(false), invertMatching: boolSpec(false) });
