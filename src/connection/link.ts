/**
 * A Link is one live, handshaken peer connection as the socket layer sees it,
 * whatever carries it: a ZMTP stream (tcp, ipc) or an in-process pair.
 */
import type { SwitchboardError } from "../errors.js";
import type { Metadata } from "../wire/commands.js";
import type { FrameFill } from "../wire/encoder.js";

export interface PeerInfo {
  /** The peer's socket type, as announced ("DEALER", "SUB", ...). */
  readonly socketType: string;
  /** The peer's `Identity` property when non-empty. */
  readonly routingId: Buffer | undefined;
  /** ZMTP minor version: 0 for a 3.0 peer (legacy subscriptions), 1 for 3.1. */
  readonly minor: number;
  /** The endpoint this link belongs to (bound or connected address). */
  readonly address: string;
  /** All properties the peer sent (Socket-Type, Identity, X-*...). */
  readonly metadata: Metadata;
}

/** What a link reports to its owner once ready. */
export interface LinkHandler {
  /** A whole message (all frames) arrived. */
  onMessage(frames: Buffer[]): void;
  /** A SUBSCRIBE (true) or CANCEL (false) command arrived. */
  onSubscription(subscribe: boolean, topic: Buffer): void;
  /** The link can take writes again after reporting `writable === false`. */
  onDrain(): void;
  /** The link is gone; `error` says why, when it was not a clean close. */
  onClose(error: SwitchboardError | undefined): void;
}

export interface Link {
  readonly peer: PeerInfo;
  /** False while the transport pushes back; wait for `onDrain`. */
  readonly writable: boolean;
  /** Queues one message for sending. Call only while `writable`. */
  write(frames: readonly Buffer[]): void;
  /**
   * Queues a one-frame message of `size` bytes that `fill` writes in place
   * (no buffer of its own). Call only while `writable`. Links that cannot do
   * this leave it out; the caller then builds a buffer and uses write().
   */
  writeWith?(size: number, fill: FrameFill): void;
  /** Sends a subscription in the form the peer understands. */
  sendSubscription(subscribe: boolean, topic: Buffer): void;
  /** Stops delivering messages until {@link resume} (receive back-pressure). */
  pause(): void;
  resume(): void;
  setHandler(handler: LinkHandler): void;
  /** Flushes what was written, then ends the link. `onClose` follows. */
  close(): void;
  /** Ends the link at once, dropping anything unsent. `onClose` follows. */
  destroy(error?: SwitchboardError): void;
}
