/**
 * A Connection is an agent's attachment to a router: an address, a handler
 * for arriving messages, and send() in two forms:
 *
 * - `await conn.send(msg)`: fire and forget; resolves once the router took it;
 * - `await conn.send(msg, timeoutMs)`: resolves with the reply, or rejects
 *   with a coded error: ETIMEDOUT (no reply in time), ENOTDELIVERED (the
 *   router knows the target is gone or unknown; reported at once),
 *   EDOESNOTUNDERSTAND, EREMOTE (the handler failed), ESHUTDOWN.
 *
 * Failure is explicit: a request never hangs beyond its timeout.
 */
import {
  DoesNotUnderstandError, NotDeliveredError, RemoteError, RequestTimeoutError, ShutdownError, type SwitchboardError,
} from "../errors.js";
import type { Address } from "./address.js";
import type { Deadline, Deadlines } from "./deadlines.js";
import { Msg } from "./msg.js";
import { VLM, type HandlerInstruction } from "./vlm.js";

/**
 * Called with each arriving message. It may return (or resolve to) a list of
 * instructions for a message it did not handle, as VLMessaging handlers do.
 */
export type MsgHandler = (msg: Msg) => void | readonly HandlerInstruction[] | Promise<void | readonly HandlerInstruction[]>;

/** What a connection needs from its router. */
export interface ConnectionHost {
  route(msg: Msg): void;
  /** Tells the sender of `msg` at once that it cannot be delivered. */
  bounce(msg: Msg, reason: string): void;
  readonly deadlines: Deadlines;
  readonly isShutdown: boolean;
  readonly directoryAddr: Address;
  closeConnection(connection: Connection): void;
}

/** A request waiting for its reply; it is its own deadline's expiry, so no closure holds the Msg. */
class Pending {
  resolve!: (reply: Msg) => void;
  reject!: (error: SwitchboardError) => void;
  deadline!: Deadline;

  constructor(
    private readonly conn: Connection,
    readonly id: number,
    readonly subject: string,
    private readonly to: Address,
    private readonly timeoutMs: number,
  ) {}

  expire(): void {
    if (this.conn.forget(this.id)) {
      this.reject(new RequestTimeoutError(`no reply to ${this.subject} from ${this.to.toString()} within ${this.timeoutMs} ms`));
    }
  }
}

const RESOLVED = Promise.resolve();

export class Connection {
  private nextId = 0;
  private readonly pending = new Map<number, Pending>();
  private closed = false;

  constructor(
    private readonly host: ConnectionHost,
    /** This connection's address. */
    readonly addr: Address,
    private readonly handler: MsgHandler | undefined,
  ) {}

  /** The address of the directory on this connection's router. */
  get directoryAddr(): Address {
    return this.host.directoryAddr;
  }

  /** Whether messages to this connection can be handled (it has a handler and is open). */
  get accepting(): boolean {
    return this.handler !== undefined && !this.closed;
  }

  /** Sends without waiting for a reply. */
  send(msg: Msg): Promise<void>;
  /** Sends and waits up to `timeoutMs` for the reply. */
  send<R = unknown>(msg: Msg, timeoutMs: number): Promise<Msg<R>>;
  send(msg: Msg, timeoutMs?: number): Promise<void | Msg> {
    if (this.closed || this.host.isShutdown) return Promise.reject(new ShutdownError());
    msg.from = this.addr;
    msg.id = ++this.nextId;
    if (timeoutMs === undefined) {
      this.host.route(msg);
      return RESOLVED;
    }
    const request = new Pending(this, msg.id, msg.subject, msg.to, timeoutMs);
    const promise = new Promise<Msg>((resolve, reject) => {
      request.resolve = resolve;
      request.reject = reject;
    });
    request.deadline = this.host.deadlines.add(timeoutMs, request);
    this.pending.set(msg.id, request);
    this.host.route(msg);
    return promise;
  }

  /** @internal Drops a pending request (its deadline passed); true if it was still pending. */
  forget(id: number): boolean {
    return this.pending.delete(id);
  }

  /** Detaches from the router: pending requests reject with ESHUTDOWN; later messages are not delivered. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.failAll(new ShutdownError("Connection was closed"));
    this.host.closeConnection(this);
  }

  /** @internal Rejects every pending request (router shutdown). */
  failAll(error: SwitchboardError): void {
    for (const [id, pending] of this.pending) {
      this.pending.delete(id);
      this.host.deadlines.settle(pending.deadline);
      pending.reject(error);
    }
  }

  /** @internal A message for this connection arrived. */
  deliver(msg: Msg): void {
    if (msg.replyId !== undefined) {
      const pending = this.pending.get(msg.replyId);
      if (pending) {
        this.pending.delete(msg.replyId);
        this.host.deadlines.settle(pending.deadline);
        this.settle(pending, msg);
        return;
      }
      // A reply nobody waits for (late, or to a fire-and-forget send):
      // never answered, so two parties cannot bounce messages for ever.
      if (msg.subject === VLM.MSG_NOT_DELIVERED || !this.handler) return;
    }
    if (!this.handler) {
      this.host.bounce(msg, `${this.addr.toString()} has no handler`);
      return;
    }
    let result: ReturnType<MsgHandler>;
    try {
      result = this.handler(msg);
    } catch (error) {
      this.handlerFailed(msg, error);
      return;
    }
    if (result && typeof (result as Promise<unknown>).then === "function") {
      (result as Promise<void | readonly HandlerInstruction[]>).then(
        (instructions) => this.unhandled(msg, instructions),
        (error: unknown) => this.handlerFailed(msg, error),
      );
    } else {
      this.unhandled(msg, result as void | readonly HandlerInstruction[]);
    }
  }

  private settle(pending: Pending, reply: Msg): void {
    switch (reply.subject) {
      case VLM.MSG_NOT_DELIVERED:
        return pending.reject(new NotDeliveredError(String((reply.contents as { reason?: string } | undefined)?.reason ?? "not delivered")));
      case VLM.DOES_NOT_UNDERSTAND:
        return pending.reject(new DoesNotUnderstandError(`${reply.from?.toString() ?? "the receiver"} does not understand ${pending.subject}`));
      case VLM.HANDLER_FAILED: {
        const remote = (reply.contents ?? {}) as { name?: string; message?: string };
        return pending.reject(new RemoteError({ name: String(remote.name ?? "Error"), message: String(remote.message ?? "") }));
      }
      default:
        return pending.resolve(reply);
    }
  }

  /** Applies the instructions a handler returned for a message it did not handle. */
  private unhandled(msg: Msg, instructions: void | readonly HandlerInstruction[]): void {
    if (!instructions || instructions.length === 0 || this.closed) return;
    if (msg.subject === VLM.PING && instructions.includes(VLM.HANDLE_PING) && !msg.isReply) {
      this.answer(msg.reply(undefined, VLM.PONG));
    } else if (msg.isReply) {
      // IGNORE_UNHANDLED_REPLIES, or nothing said: a reply is never answered.
    } else if (instructions.includes(VLM.HANDLE_DOES_NOT_UNDERSTAND)) {
      this.answer(msg.reply({ subject: msg.subject }, VLM.DOES_NOT_UNDERSTAND));
    }
  }

  private handlerFailed(msg: Msg, error: unknown): void {
    if (msg.isReply || this.closed) return;
    const e = error instanceof Error ? error : new Error(String(error));
    this.answer(msg.reply({ name: e.name, message: e.message }, VLM.HANDLER_FAILED));
  }

  private answer(reply: Msg): void {
    reply.from = this.addr;
    reply.id = ++this.nextId;
    this.host.route(reply);
  }
}
