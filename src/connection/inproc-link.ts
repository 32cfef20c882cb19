/**
 * An in-process link: two ends that hand messages to each other directly,
 * with no encoding and no copy. Back-pressure works as on a stream: when the
 * receiving side pauses (its queue is at the receive high-water mark), the
 * sending end stops being writable until the receiver resumes.
 */
import { ProtocolError, type SwitchboardError } from "../errors.js";
import { isCompatible, SENDS_IDENTITY, type SocketType } from "../wire/constants.js";
import type { Link, LinkHandler, PeerInfo } from "./link.js";

export interface InprocSide {
  socketType: SocketType;
  routingId: Buffer | undefined;
}

const noHandler: LinkHandler = { onMessage() {}, onSubscription() {}, onDrain() {}, onClose() {} };

export class InprocLink implements Link {
  private handler: LinkHandler = noHandler;
  private other!: InprocLink;
  private paused = false;
  private closed = false;
  /** What arrived before this end's owner took it (the two ends are attached one after the other). */
  private backlog: Array<{ frames: Buffer[] } | { subscribe: boolean; topic: Buffer }> | undefined = [];

  private constructor(readonly peer: PeerInfo) {}

  /**
   * Builds both ends after the same checks a ZMTP handshake makes.
   * Throws ProtocolError(ERR_ZMTP_INCOMPATIBLE_SOCKET_TYPE) for a bad pair.
   */
  static pair(connecter: InprocSide, binder: InprocSide, address: string): [connecterEnd: InprocLink, binderEnd: InprocLink] {
    if (!isCompatible(connecter.socketType, binder.socketType)) {
      throw new ProtocolError(
        "ERR_ZMTP_INCOMPATIBLE_SOCKET_TYPE",
        `a ${connecter.socketType} socket cannot talk to a ${binder.socketType} peer`,
        { address },
      );
    }
    const info = (side: InprocSide): PeerInfo => ({
      socketType: side.socketType,
      routingId: SENDS_IDENTITY.has(side.socketType) ? side.routingId : undefined,
      minor: 1,
      address,
      metadata: [],
    });
    const a = new InprocLink(info(binder));
    const b = new InprocLink(info(connecter));
    a.other = b;
    b.other = a;
    return [a, b];
  }

  get writable(): boolean {
    return !this.closed && !this.other.paused;
  }

  setHandler(handler: LinkHandler): void {
    this.handler = handler;
    const backlog = this.backlog;
    this.backlog = undefined;
    for (const item of backlog ?? []) {
      if ("frames" in item) handler.onMessage(item.frames);
      else handler.onSubscription(item.subscribe, item.topic);
    }
  }

  write(frames: readonly Buffer[]): void {
    if (this.closed) return;
    const other = this.other;
    if (other.backlog) other.backlog.push({ frames: frames as Buffer[] });
    else other.handler.onMessage(frames as Buffer[]);
  }

  sendSubscription(subscribe: boolean, topic: Buffer): void {
    if (this.closed) return;
    const other = this.other;
    if (other.backlog) other.backlog.push({ subscribe, topic });
    else other.handler.onSubscription(subscribe, topic);
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    // On the next microtask: the reader is in the middle of taking a message.
    queueMicrotask(() => {
      if (!this.other.closed && !this.paused) this.other.handler.onDrain();
    });
  }

  close(): void {
    this.destroy();
  }

  destroy(error?: SwitchboardError): void {
    if (this.closed) return;
    this.closed = true;
    this.other.closed = true;
    const mine = this.handler;
    const theirs = this.other.handler;
    this.handler = this.other.handler = noHandler;
    // Reported on the next turn, so no socket re-enters itself.
    queueMicrotask(() => {
      mine.onClose(error);
      theirs.onClose(undefined);
    });
  }
}
