/**
 * REQ and REP (RFC 28): strict request/reply lockstep.
 *
 * ```
 *   REQ --["", "question"]--> REP          REP app receives ["question"]
 *   REQ <--["", "answer"]---- REP          REP app sends ["answer"]
 * ```
 * REQ adds the empty delimiter (and, with `correlate`, a 4-byte request id
 * before it), sends round-robin, and accepts only the reply to its latest
 * request from the peer it asked. REP strips everything up to the delimiter
 * (the envelope), and puts it back on the reply.
 */
import { ProtocolError, StateError } from "../../errors.js";
import { FairQueue } from "../fair-queue.js";
import { LoadBalancer } from "../load-balancer.js";
import type { MessageLike } from "../message.js";
import { boolSpec } from "../options.js";
import type { Pipe } from "../pipe.js";
import { Socket, defineOptions } from "../socket.js";
import type { SocketOptions } from "./types.js";

const EMPTY = Buffer.alloc(0);

export interface RequestOptions {
  /** ZMQ_REQ_RELAXED: allow a new request before the reply to the previous one arrived (that reply is then ignored). */
  relaxed: boolean;
  /** ZMQ_REQ_CORRELATE: prefix requests with a request id and accept only the reply carrying it. */
  correlate: boolean;
}

export class Request extends Socket {
  private readonly lb = new LoadBalancer();
  private awaiting: Pipe | undefined;
  private reply: Buffer[] | undefined;
  private requestId = (Math.random() * 0x1_0000_0000) >>> 0;

  constructor(options?: SocketOptions<Request>) {
    super("REQ", options);
  }

  /** Sends a request. Rejects with EFSM while a reply is due (unless `relaxed`). */
  send(message: MessageLike | MessageLike[]): Promise<void> {
    return this.sendMessage(message);
  }

  /** Receives the reply to the last request. Rejects with EFSM when no request is outstanding. */
  receive(): Promise<Buffer[]> {
    if (!this.closed && this.awaiting === undefined && this.reply === undefined) {
      return Promise.reject(new StateError("Operation cannot be accomplished in current state: send a request first"));
    }
    return this.receiveMessage();
  }

  protected xSend(frames: Buffer[]): boolean {
    const opts = this as unknown as RequestOptions;
    if ((this.awaiting !== undefined || this.reply !== undefined) && !opts.relaxed) {
      throw new StateError("Operation cannot be accomplished in current state: a reply is due");
    }
    const id = Buffer.allocUnsafe(4);
    const envelope = opts.correlate ? [(id.writeUInt32BE(this.requestId), id), EMPTY] : [EMPTY];
    const pipe = this.lb.send([...envelope, ...frames]);
    if (!pipe) return false;
    this.awaiting = pipe;
    this.reply = undefined;
    if (opts.correlate) this.requestId = (this.requestId + 1) >>> 0;
    return true;
  }

  protected xRecv(): Buffer[] | undefined {
    const reply = this.reply;
    this.reply = undefined;
    return reply;
  }

  protected xMessage(pipe: Pipe, frames: Buffer[]): void {
    if (pipe !== this.awaiting) return; // not the peer we asked: dropped, as libzmq does
    const opts = this as unknown as RequestOptions;
    let start = 0;
    if (opts.correlate) {
      const id = frames[0];
      if (!id || id.length !== 4 || id.readUInt32BE(0) !== ((this.requestId - 1) >>> 0)) return;
      start = 1;
    }
    if (frames[start]?.length !== 0 || frames.length < start + 2) {
      // A reply without the empty delimiter: libzmq drops such a connection
      // for good; we drop it too, with a coded error, and let it reconnect.
      pipe.link?.destroy(new ProtocolError("ERR_ZMTP_INVALID_ENVELOPE", "reply without an empty delimiter frame", {
        address: pipe.address,
        fatal: false,
      }));
      return;
    }
    this.awaiting = undefined;
    this.reply = frames.slice(start + 1);
  }

  protected override xHasIn(): boolean {
    return this.reply !== undefined;
  }
  protected override xHasOut(): boolean {
    return this.lb.hasRoom() && ((this.awaiting === undefined && this.reply === undefined) || (this as unknown as RequestOptions).relaxed);
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

export interface Request extends RequestOptions {}
defineOptions(Request.prototype, { relaxed: boolSpec(false), correlate: boolSpec(false) });

export class Reply extends Socket {
  private readonly fq = new FairQueue();
  /** The request being answered: where the reply goes and its envelope. */
  private current: { pipe: Pipe; envelope: Buffer[] } | undefined;

  constructor(options?: SocketOptions<Reply>) {
    super("REP", options);
  }

  /** Receives the next request. Rejects with EFSM while a reply is due. */
  receive(): Promise<Buffer[]> {
    if (this.current !== undefined && !this.closed) {
      return Promise.reject(new StateError("Operation cannot be accomplished in current state: send the reply first"));
    }
    return this.receiveMessage();
  }

  /** Sends the reply to the request last received. Rejects with EFSM when none is due. */
  send(message: MessageLike | MessageLike[]): Promise<void> {
    return this.sendMessage(message);
  }

  protected xSend(frames: Buffer[]): boolean {
    const current = this.current;
    if (!current) throw new StateError("Operation cannot be accomplished in current state: receive a request first");
    this.current = undefined;
    // A requester that has gone, or is full, loses its reply (libzmq never blocks REP).
    if (current.pipe.alive) current.pipe.trySend([...current.envelope, ...frames]);
    this.wakeReceivers();
    return true;
  }

  protected xRecv(): Buffer[] | undefined {
    if (this.current) return undefined;
    for (;;) {
      const frames = this.fq.next();
      if (!frames) return undefined;
      const pipe = this.fq.lastPipe!;
      const split = frames.findIndex((f) => f.length === 0);
      // No delimiter, or nothing after it: not a request; discarded, as libzmq does.
      if (split < 0 || split === frames.length - 1) continue;
      this.current = { pipe, envelope: frames.slice(0, split + 1) };
      return frames.slice(split + 1);
    }
  }

  protected xMessage(pipe: Pipe, frames: Buffer[]): void {
    this.fq.push(pipe, frames);
  }
  protected override xHasIn(): boolean {
    return this.current === undefined && this.fq.size > 0;
  }
  protected override xHasOut(): boolean {
    return this.current !== undefined;
  }
}
