/**
 * DEALER and ROUTER (RFC 28).
 *
 * DEALER round-robins outgoing messages and fair-queues incoming ones, with
 * no envelope. ROUTER prefixes each incoming message with the sender's
 * routing id and sends each outgoing message to the peer its first frame
 * names:
 * ```
 *   peer (id "A") --["hello"]--> ROUTER --receive()--> ["A", "hello"]
 *   send(["A", "world"]) --> ROUTER --["world"]--> peer "A"
 * ```
 * Routing ids: the peer's `Identity` if it sent one, the id given to
 * `connect(address, { routingId })`, or a generated 5-byte id (0x00 + a
 * 32-bit counter), as libzmq does.
 */
import { HostUnreachableError, ProtocolError } from "../../errors.js";
import { channels } from "../../diagnostics.js";
import type { Link } from "../../connection/link.js";
import type { ConnectOptions } from "../endpoints.js";
import { reportHandshakeFailure } from "../report.js";
import { FairQueue } from "../fair-queue.js";
import { LoadBalancer } from "../load-balancer.js";
import type { MessageLike } from "../message.js";
import { boolSpec, type ConflateOption } from "../options.js";
import type { Pipe } from "../pipe.js";
import { Socket, defineOptions } from "../socket.js";
import type { SocketOptions } from "./types.js";

export class Dealer extends Socket {
  private readonly lb = new LoadBalancer();
  private readonly fq = new FairQueue();

  constructor(options?: SocketOptions<Dealer>) {
    super("DEALER", options);
  }

  send(message: MessageLike | MessageLike[]): Promise<void> {
    return this.sendMessage(message);
  }

  receive(): Promise<Buffer[]> {
    return this.receiveMessage();
  }

  protected xSend(frames: Buffer[]): boolean {
    return this.lb.send(frames) !== undefined;
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

export interface RouterConnectOptions {
  /** The routing id to know this peer by (ZMQ_CONNECT_ROUTING_ID). */
  routingId?: string;
}

export interface RouterOptions {
  /** ZMQ_ROUTER_MANDATORY: sending to an unknown routing id rejects with EHOSTUNREACH, and a full peer makes send wait, instead of dropping. */
  mandatory: boolean;
  /** ZMQ_ROUTER_HANDOVER: a new peer with a routing id in use takes it over; otherwise the newcomer is refused. */
  handover: boolean;
}

export class Router extends Socket {
  private readonly fq = new FairQueue();
  private readonly byId = new Map<string, Pipe>();
  private nextId = (Math.random() * 0x1_0000_0000) >>> 0;
  /** The pipe of the last send, to route the next one without a map lookup. */
  private lastPipe: Pipe | undefined;

  constructor(options?: SocketOptions<Router>) {
    super("ROUTER", options);
  }

  /** Connects; `routingId` names the peer of this connection (useful for ROUTER to ROUTER). */
  override connect(address: string, options: RouterConnectOptions = {}): void {
    if (this.closed) return super.connect(address);
    const opts: ConnectOptions = {};
    if (options.routingId !== undefined) opts.routingId = options.routingId;
    this.endpoints.connect(address, opts);
  }

  /** Sends [routingId, ...frames] to the peer with that routing id. */
  send(message: MessageLike | MessageLike[]): Promise<void> {
    return this.sendMessage(message);
  }

  /** Receives [routingId, ...frames]. */
  receive(): Promise<Buffer[]> {
    return this.receiveMessage();
  }

  protected xSend(frames: Buffer[]): boolean {
    const id = frames[0]!;
    if (frames.length < 2) return true; // libzmq ignores a message that is only an id
    // Replies usually carry the very id Buffer that receive() handed out:
    // find its pipe without building a string key.
    const pipe = this.lastPipe?.routingId === id ? this.lastPipe : this.byId.get(id.toString("latin1"));
    const mandatory = (this as unknown as RouterOptions).mandatory;
    if (!pipe) {
      if (mandatory) throw new HostUnreachableError(`no peer with routing id ${id.toString("hex")}`);
      this.dropped("unknown routing id", frames);
      return true;
    }
    this.lastPipe = pipe;
    if (pipe.trySend(frames.slice(1))) return true;
    if (mandatory) return false;
    this.congested = true; // yield, so the peer's queue can drain
    this.dropped("peer at high-water mark", frames);
    return true;
  }

  private dropped(reason: string, frames: Buffer[]): void {
    if (channels.drop.hasSubscribers) channels.drop.publish({ socketType: "ROUTER", reason, frames });
  }

  protected xRecv(): Buffer[] | undefined {
    return this.fq.next();
  }
  protected xMessage(pipe: Pipe, frames: Buffer[]): void {
    // A new array (not unshift, which is slow on V8's packed arrays).
    const n = frames.length;
    const message = new Array<Buffer>(n + 1);
    message[0] = pipe.routingId!;
    for (let i = 0; i < n; i++) message[i + 1] = frames[i]!;
    this.fq.push(pipe, message);
  }
  protected override xHasIn(): boolean {
    return this.fq.size > 0;
  }
  protected override xHasOut(): boolean {
    return true;
  }
  protected override xAccept(pipe: Pipe, link: Link): boolean {
    const id = pipe.routingId ?? link.peer.routingId ?? this.generateId();
    const key = id.toString("latin1");
    const holder = this.byId.get(key);
    if (holder && holder !== pipe) {
      if (!(this as unknown as RouterOptions).handover) {
        const error = new ProtocolError("ERR_ZMTP_DUPLICATE_ROUTING_ID", `routing id ${id.toString("hex")} is already in use`, {
          address: link.peer.address,
          fatal: false,
        });
        reportHandshakeFailure(this, link.peer.address, error);
        return false;
      }
      this.byId.delete(key);
      holder.routingId = undefined;
      holder.link?.destroy();
    }
    pipe.routingId = id;
    this.byId.set(key, pipe);
    return true;
  }
  protected override xDetach(pipe: Pipe): void {
    if (this.lastPipe === pipe) this.lastPipe = undefined;
    if (pipe.routingId && this.byId.get(pipe.routingId.toString("latin1")) === pipe) {
      this.byId.delete(pipe.routingId.toString("latin1"));
      this.onPeerGone?.(pipe.routingId);
    }
  }

  /** @internal Told when the peer with a routing id goes away (layers above ZeroMQ use it). */
  onPeerGone: ((routingId: Buffer) => void) | undefined;

  private generateId(): Buffer {
    for (;;) {
      const id = Buffer.allocUnsafe(5);
      id[0] = 0;
      id.writeUInt32BE(this.nextId, 1);
      this.nextId = (this.nextId + 1) >>> 0;
      if (!this.byId.has(id.toString("latin1"))) return id;
    }
  }
}

export interface Router extends RouterOptions {}

defineOptions(Router.prototype, { mandatory: boolSpec(false), handover: boolSpec(false) });

export interface Dealer extends ConflateOption {}
defineOptions(Dealer.prototype, { conflate: boolSpec(false) });
