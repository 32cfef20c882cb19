/**
 * PUSH and PULL (RFC 30): PUSH round-robins messages to its peers and waits
 * at the high-water mark; PULL fair-queues what its peers push.
 */
import { FairQueue } from "../fair-queue.js";
import { LoadBalancer } from "../load-balancer.js";
import type { MessageLike } from "../message.js";
import type { Pipe } from "../pipe.js";
import { boolSpec, type ConflateOption } from "../options.js";
import { Socket, defineOptions } from "../socket.js";
import type { SocketOptions } from "./types.js";
import type { FrameFill } from "../../wire/encoder.js";

export class Push extends Socket {
  private readonly lb = new LoadBalancer();

  constructor(options?: SocketOptions<Push>) {
    super("PUSH", options);
  }

  /** Queues a message for the next peer with room; waits while every peer is at its high-water mark. */
  send(message: MessageLike | MessageLike[]): Promise<void> {
    return this.sendMessage(message);
  }

  /**
   * @internal Writes a one-frame message of `size` bytes, filled in place by
   * `fill`, straight into the next peer's outgoing batch: no buffer, no
   * promise. Only when that keeps the order (no send waiting, the peer's
   * queue empty and its link writable); false otherwise, and nothing was
   * written: then send() the message.
   */
  sendFrameWith(size: number, fill: FrameFill): boolean {
    return this.sendQueueEmpty && this.lb.sendWith(size, fill);
  }

  protected xSend(frames: Buffer[]): boolean {
    return this.lb.send(frames) !== undefined;
  }
  protected xRecv(): undefined {
    return undefined;
  }
  protected xMessage(): void {}
  protected override xHasOut(): boolean {
    return this.lb.hasRoom();
  }
  override xEagerPipes(): boolean {
    return true;
  }
  protected override xAttach(pipe: Pipe): void {
    this.lb.add(pipe);
  }
  protected override xDetach(pipe: Pipe): void {
    this.lb.remove(pipe);
  }
}

export class Pull extends Socket {
  private readonly fq = new FairQueue();

  constructor(options?: SocketOptions<Pull>) {
    super("PULL", options);
  }

  /** Waits for the next message from any peer (fair-queued). */
  receive(): Promise<Buffer[]> {
    return this.receiveMessage();
  }

  protected xSend(): boolean {
    return false;
  }
  protected xRecv(): Buffer[] | undefined {
    return this.fq.next();
  }
  protected xMessage(pipe: Pipe, frames: Buffer[]): void {
    this.fq.push(pipe, frames);
  }
  protected override xHasIn(): boolean {
    return this.fq.size > 0;
  }
}

export interface Push extends ConflateOption {}
defineOptions(Push.prototype, { conflate: boolSpec(false) });

export interface Pull extends ConflateOption {}
defineOptions(Pull.prototype, { conflate: boolSpec(false) });
