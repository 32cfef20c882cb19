/**
 * Msg: the unit of communication. `to` and `from` are addresses; `subject`
 * says what it is; `contents` is any structured value (MessagePack on the
 * wire; passed by reference inside one process); `id` is set by the sending
 * connection; a reply carries the request's id in `replyId`.
 */
import type { Address } from "./address.js";

export interface MsgOptions {
  from?: Address;
  id?: number;
  replyId?: number;
  meta?: Record<string, unknown>;
  hops?: number;
}

export class Msg<T = unknown> {
  /** The sender (its reply-to address); set by Connection.send(). */
  from: Address | undefined;
  /** Set by the sending connection, unique per connection. */
  id: number;
  /** The id of the message this one answers. */
  replyId: number | undefined;
  /** Application metadata (tracing ids and the like). */
  meta: Record<string, unknown> | undefined;
  /** How many links between routers the message has crossed (routers refuse it past VLM.MAX_HOPS). */
  hops: number;

  constructor(
    public to: Address,
    public subject: string,
    public contents?: T,
    options: MsgOptions = {},
  ) {
    this.from = options.from;
    this.id = options.id ?? 0;
    this.replyId = options.replyId;
    this.meta = options.meta;
    this.hops = options.hops ?? 0;
  }

  /** Whether this message answers another. */
  get isReply(): boolean {
    return this.replyId !== undefined;
  }

  /** A reply to this message: to its sender, with the same subject unless given. */
  reply<R>(contents?: R, subject: string = this.subject): Msg<R> {
    if (!this.from) throw new Error("cannot reply to a message without a sender");
    return new Msg(this.from, subject, contents, { replyId: this.id });
  }
}
