/**
 * PAIR (RFC 31): exactly one peer; a second connection is refused.
 */
import type { Link } from "../../connection/link.js";
import type { MessageLike } from "../message.js";
import type { Pipe } from "../pipe.js";
import { Queue } from "../../util/queue.js";
import { Socket } from "../socket.js";
import type { SocketOptions } from "./types.js";

export class Pair extends Socket {
  private pipe: Pipe | undefined;

  constructor(options?: SocketOptions<Pair>) {
    super("PAIR", options);
  }

  send(message: MessageLike | MessageLike[]): Promise<void> {
    return this.sendMessage(message);
  }

  receive(): Promise<Buffer[]> {
    return this.receiveMessage();
  }

  protected xSend(frames: Buffer[]): boolean {
    return this.pipe?.trySend(frames) ?? false;
  }
  protected xRecv(): Buffer[] | undefined {
    // Messages of peers that left come first: they arrived earlier.
    for (let orphan = this.orphans.peek(); orphan; orphan = this.orphans.peek()) {
      const frames = orphan.take();
      if (orphan.inbox.length === 0) this.orphans.shift();
      if (frames) return frames;
    }
    return this.pipe?.take();
  }
  /** Pipes that went away with messages still unread, oldest first. */
  private readonly orphans = new Queue<Pipe>();
  protected xMessage(pipe: Pipe, frames: Buffer[]): void {
    pipe.queueInbound(frames);
  }
  protected override xHasIn(): boolean {
    return this.orphans.length > 0 || (this.pipe?.inbox.length ?? 0) > 0;
  }
  protected override xHasOut(): boolean {
    return this.pipe?.hasRoom ?? false;
  }
  override xEagerPipes(): boolean {
    return true;
  }
  protected override xAccept(pipe: Pipe, _link: Link): boolean {
    return this.pipe === undefined || (this.pipe === pipe && pipe.link === undefined);
  }
  protected override xAttach(pipe: Pipe): void {
    if (this.pipe === undefined) this.pipe = pipe;
  }
  protected override xDetach(pipe: Pipe): void {
    if (this.pipe !== pipe) return;
    this.pipe = undefined;
    if (pipe.inbox.length > 0) this.orphans.push(pipe);
  }
}
