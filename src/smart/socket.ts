/**
 * The smart Socket: one object that binds and connects any number of times,
 * sends by publish, round-robin or identity, receives from every connection
 * through one queue, reconnects by itself and speaks aiomsg protocol v1, so
 * any aiomsg implementation can be its peer.
 *
 * ```ts
 * await using sock = new Socket({ sendMode: "publish" });
 * await sock.bind("tcp://127.0.0.1:25000");
 * for await (const msg of sock.messages()) await sock.send(msg);
 * ```
 *
 * The parts: Outbox (routing, send buffering, at-least-once resends), Inbox
 * (receive queue, duplicate suppression, ACK on delivery), Peer (one
 * connection), Connector (the connect end's reconnect loop), and the
 * BindTarget/ConnectTarget seam through which other transports plug in.
 */
import { EventEmitter } from "node:events";
import type { Duplex } from "node:stream";
import { ClosedError, InvalidArgumentError, ProtocolError, SwitchboardError } from "../errors.js";
import { channels } from "../diagnostics.js";
import { Connector } from "./connector.js";
import { Inbox, InboxIterator } from "./inbox.js";
import { resolveOptions, toIdentity, type ResolvedOptions, type SocketOptions } from "./options.js";
import { Outbox } from "./outbox.js";
import { Peer, type OutMessage, type PeerHandler } from "./peer.js";
import { toBindTarget, toConnectTarget, type BindTarget, type ConnectTarget, type SmartListener } from "./transport.js";
import type { PeerInfo, Role, SocketEvents } from "./events.js";

export type { PeerInfo, Role, SocketEvents } from "./events.js";

export interface SendOptions {
  /** Send to the connected peer with this identity (16 bytes, or 32 hex digits), whatever the send mode. */
  identity?: Uint8Array | string;
}

export interface CloseOptions {
  /** How long close() may spend flushing buffered, queued and unacknowledged messages before it drops them. Default 1000. */
  timeoutMs?: number;
}

/** What a message may be given as: bytes, or a string (sent as UTF-8). */
export type MessageData = Buffer | Uint8Array | ArrayBuffer | string;

interface Connection {
  readonly role: Role;
  readonly address: string;
  /** The connect end's reconnect loop waits on this. */
  readonly ended: ((greeted: boolean) => void) | undefined;
}

const DEFAULT_CLOSE_TIMEOUT_MS = 1000;

export class Socket {
  /** Connection lifecycle events (listeners see them as they happen). There is no "error" event. */
  readonly events = new EventEmitter<SocketEvents>();
  private readonly options: ResolvedOptions;
  private readonly outbox: Outbox;
  private readonly inbox: Inbox;
  private readonly connections = new Map<Peer, Connection>();
  private readonly listeners: SmartListener[] = [];
  private readonly connectors: Connector[] = [];
  private state: "open" | "closing" | "closed" = "open";
  private closing: Promise<void> | undefined;
  private idleWaiter: (() => void) | undefined;

  /** @throws InvalidArgumentError (EINVAL) for a bad or unknown option, or publish with at-least-once. */
  constructor(options: SocketOptions = {}) {
    this.options = resolveOptions(options);
    const o = this.options;
    this.outbox = new Outbox(o, () => this.checkIdle());
    this.inbox = new Inbox(o.receiveBufferSize, o.clock, o.dedupWindowSize, o.dedupWindowTime, {
      pause: () => {
        for (const peer of this.connections.keys()) peer.pauseReading();
      },
      resume: () => {
        for (const peer of [...this.connections.keys()]) peer.resumeReading();
      },
    });
  }

  /** This socket's identity (a copy). */
  get identity(): Buffer {
    return Buffer.from(this.options.identity);
  }

  get sendMode(): ResolvedOptions["sendMode"] {
    return this.options.sendMode;
  }

  get delivery(): ResolvedOptions["delivery"] {
    return this.options.delivery;
  }

  /** True once close() was called. */
  get closed(): boolean {
    return this.state !== "open";
  }

  /** The resolved endpoints this socket listens on, in bind order. */
  get endpoints(): string[] {
    return this.listeners.map((listener) => listener.endpoint);
  }

  /** Connections that completed their HELLO exchange. */
  get peerCount(): number {
    return this.outbox.peers.length;
  }

  /** The identities of the connected peers. */
  get peerIdentities(): Buffer[] {
    return this.outbox.peers.map((peer) => Buffer.from(peer.identity!));
  }

  /**
   * Listens for peers: `bind("tcp://host:port")`, `bind(host, port)` (port 0
   * picks a free one), or `bind(target)` for another transport. Resolves with
   * the resolved endpoint (e.g. "tcp://127.0.0.1:41627"). May be called many times.
   */
  async bind(endpoint?: string | BindTarget, port?: number): Promise<string> {
    this.assertOpen();
    const target = toBindTarget(endpoint, port);
    let address = target.address;
    const listener = await target.listen((stream) => {
      if (this.state === "closed") {
        stream.destroy();
        return;
      }
      this.attach(stream, address, "bind", undefined);
    });
    address = listener.endpoint;
    if (this.state !== "open") {
      await listener.close();
      throw new ClosedError();
    }
    this.listeners.push(listener);
    return listener.endpoint;
  }

  /**
   * Connects to a peer: `connect("tcp://host:port")`, `connect(host, port)`,
   * or `connect(target)` for another transport. Resolves at once; the
   * connection comes up in the background and is re-established after every
   * loss, for the socket's whole life. May be called many times.
   */
  async connect(endpoint?: string | ConnectTarget, port?: number): Promise<void> {
    this.assertOpen();
    const target = toConnectTarget(endpoint, port);
    this.connectors.push(new Connector(target, this.options.clock, this.options.reconnectDelay, {
      session: (stream, t) => new Promise<boolean>((resolve) => this.attach(stream, t.address, "connect", resolve)),
      dialFailed: () => {},
    }));
  }

  /**
   * Sends one message. Without an identity it goes by the send mode; with one,
   * to that peer only. At-most-once: resolves once the socket has taken the
   * message (queued on a connection, or buffered while none can take it).
   * At-least-once: resolves when the peer acknowledged it.
   *
   * The socket keeps a reference to the bytes: do not modify a Buffer after
   * passing it. Rejects with EHOSTUNREACH (identity not connected), EAGAIN
   * (no room within sendTimeout), ENOTDELIVERED (at-least-once retries
   * exhausted, or closed first), EBADF (socket closed), EINVAL (bad data).
   */
  send(data: MessageData, options: SendOptions = {}): Promise<void> {
    // Not an async function: an at-most-once message taken at once costs no promise of its own.
    try {
      this.assertOpen();
      const payload = toPayload(data);
      const identity = options.identity === undefined ? undefined : toIdentity(options.identity, "send() identity");
      return this.outbox.send(payload, identity);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Sends `text` as UTF-8. */
  sendString(text: string, options?: SendOptions): Promise<void> {
    if (typeof text !== "string") return Promise.reject(new InvalidArgumentError("sendString() takes a string"));
    return this.send(text, options);
  }

  /** Sends `value` as JSON text (UTF-8). */
  sendJson(value: unknown, options?: SendOptions): Promise<void> {
    let text: string | undefined;
    try {
      text = JSON.stringify(value);
    } catch (error) {
      return Promise.reject(new InvalidArgumentError("value cannot be sent as JSON", { cause: error }));
    }
    if (text === undefined) return Promise.reject(new InvalidArgumentError("value has no JSON form"));
    return this.send(text, options);
  }

  /** The next message from any peer. Rejects with ClosedError (EBADF) once the socket is closed. */
  async recv(): Promise<Buffer> {
    return (await this.inbox.receive())[1];
  }

  /** The next message and its sender's identity, as [identity, data]. */
  recvIdentity(): Promise<[Buffer, Buffer]> {
    return this.inbox.receive();
  }

  /** The next message decoded as UTF-8. */
  async recvString(): Promise<string> {
    return (await this.recv()).toString("utf8");
  }

  /** The next message parsed as JSON; a message that is not JSON rejects with EINVAL (and is consumed). */
  async recvJson<T = unknown>(): Promise<T> {
    const text = await this.recvString();
    try {
      return JSON.parse(text) as T;
    } catch (error) {
      throw new InvalidArgumentError("received message is not JSON", { cause: error });
    }
  }

  /** Every message from now on; the loop ends when the socket closes. */
  messages(): AsyncGenerator<Buffer, void, undefined> {
    return new InboxIterator(this.inbox, (_identity, payload) => payload, this.endsIteration);
  }

  /** Every message with its sender's identity, as [identity, data]; ends when the socket closes. */
  identityMessages(): AsyncGenerator<[Buffer, Buffer], void, undefined> {
    return new InboxIterator(this.inbox, (identity, payload): [Buffer, Buffer] => [identity, payload], this.endsIteration);
  }

  /**
   * Closes the socket. First, for up to `timeoutMs`, sends what is buffered
   * and queued and waits for outstanding at-least-once ACKs (waiting send()
   * calls get their turn too; new ones are refused with EBADF). Then it stops
   * listening and reconnecting, ends every connection (written bytes are
   * flushed before the end of the stream), rejects what is left (waiting
   * sends with EBADF, unacknowledged at-least-once sends with ENOTDELIVERED,
   * pending recv() with EBADF) and resolves. Idempotent.
   */
  close(options: CloseOptions = {}): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    const timeoutMs = options.timeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
    if (typeof timeoutMs !== "number" || !Number.isInteger(timeoutMs) || timeoutMs < 0) {
      return Promise.reject(new InvalidArgumentError(`close() timeoutMs must be an integer >= 0, got ${String(timeoutMs)}`));
    }
    this.state = "closing";
    this.closing = this.shutdown(timeoutMs);
    return this.closing;
  }

  /** `await using sock = new Socket()` closes it with the default timeout. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // ------------------------------------------------------------------ internals

  private assertOpen(): void {
    if (this.state !== "open") throw new ClosedError();
  }

  /** A receive that failed because the socket closed ends an iteration rather than failing it. */
  private readonly endsIteration = (error: unknown): boolean => error instanceof ClosedError && this.state !== "open";

  private attach(stream: Duplex, address: string, role: Role, ended: Connection["ended"]): void {
    const o = this.options;
    const peer = new Peer(stream, {
      identity: o.identity,
      clock: o.clock,
      heartbeatInterval: o.heartbeatInterval,
      heartbeatTimeout: o.heartbeatTimeout,
      maxFrameSize: o.maxFrameSize,
      queueSize: o.peerQueueSize,
      address,
    }, this.handler);
    if (peer.closed) {
      ended?.(false);
      return;
    }
    this.connections.set(peer, { role, address, ended });
    if (this.inbox.full) peer.pauseReading();
  }

  /**
   * Emits an event from inside the connection machinery. A listener that
   * throws must not be mistaken for a peer breaking the protocol, so its
   * error is rethrown on its own, as a throwing listener of any node stream
   * event would be.
   */
  private emit<K extends keyof SocketEvents>(type: K, ...args: SocketEvents[K]): void {
    try {
      (this.events.emit as (type: K, ...args: SocketEvents[K]) => boolean)(type, ...args);
    } catch (error) {
      queueMicrotask(() => {
        throw error;
      });
    }
  }

  private info(peer: Peer): PeerInfo {
    const connection = this.connections.get(peer);
    return { identity: Buffer.from(peer.identity ?? Buffer.alloc(0)), address: peer.address, role: connection?.role ?? "bind" };
  }

  private readonly handler: PeerHandler = {
    hello: (peer) => {
      const key = peer.identity!.toString("hex");
      // A socket must not be its own peer: a connect end retrying a free
      // loopback port can meet itself (a TCP simultaneous open).
      const self = peer.identity!.equals(this.identity);
      if (!self && !this.outbox.byIdentity.has(key)) return undefined;
      const why = self ? `the peer is this socket itself (identity ${key})` : `a peer with identity ${key} is already connected`;
      const error = new ProtocolError("ERR_AIOMSG_DUPLICATE_IDENTITY", why, { address: peer.address, fatal: false });
      const info = this.info(peer);
      if (channels.smartReject.hasSubscribers) {
        channels.smartReject.publish({ address: info.address, role: info.role, identity: key, error });
      }
      this.emit("reject", { ...info, error });
      return error;
    },
    ready: (peer) => {
      const key = peer.identity!.toString("hex");
      peer.key = key;
      this.outbox.add(peer, key);
      const info = this.info(peer);
      if (channels.smartConnect.hasSubscribers) {
        channels.smartConnect.publish({ address: info.address, role: info.role, identity: key });
      }
      this.emit("connect", info);
    },
    message: (peer, payload, id) => this.inbox.push(peer, payload, id),
    ack: (_peer, id) => {
      if (this.outbox.pending.ack(id)) this.outbox.pump();
    },
    room: () => this.outbox.pump(),
    closed: (peer, error, wasReady, unsent) => this.onPeerClosed(peer, error, wasReady, unsent),
  };

  private onPeerClosed(peer: Peer, error: SwitchboardError | undefined, wasReady: boolean, unsent: OutMessage[]): void {
    const info = this.info(peer);
    const connection = this.connections.get(peer);
    this.connections.delete(peer);
    if (wasReady) this.outbox.remove(peer, peer.key, unsent);
    if (error instanceof ProtocolError && error.code !== "ERR_AIOMSG_DUPLICATE_IDENTITY") {
      if (channels.smartProtocolError.hasSubscribers) {
        channels.smartProtocolError.publish({ address: info.address, role: info.role, error });
      }
      this.emit("protocol-error", { address: info.address, role: info.role, error });
    }
    if (wasReady) {
      if (channels.smartDisconnect.hasSubscribers) {
        channels.smartDisconnect.publish({ address: info.address, role: info.role, identity: peer.key, error });
      }
      this.emit("disconnect", { ...info, error });
    }
    connection?.ended?.(wasReady);
    this.checkIdle();
  }

  private checkIdle(): void {
    if (this.idleWaiter !== undefined && this.outbox.idle) {
      const wake = this.idleWaiter;
      this.idleWaiter = undefined;
      wake();
    }
  }

  private async shutdown(timeoutMs: number): Promise<void> {
    const clock = this.options.clock;
    let expired = timeoutMs === 0;
    let onDeadline: () => void = () => {};
    const deadline = new Promise<void>((resolve) => (onDeadline = resolve));
    // The deadline also bounds how long ended connections may linger after
    // close() resolved; it does not keep the process alive by itself.
    const timer = clock.setTimeout(() => {
      expired = true;
      onDeadline();
      for (const peer of [...this.connections.keys()]) peer.destroy();
    }, timeoutMs);
    if (!expired && !this.outbox.idle) {
      await Promise.race([new Promise<void>((resolve) => (this.idleWaiter = resolve)), deadline]);
      this.idleWaiter = undefined;
    }
    for (const connector of this.connectors) connector.stop();
    const unbinding = this.listeners.map((listener) => listener.close().catch(() => {}));
    this.outbox.close();
    this.inbox.close();
    const peers = [...this.connections.keys()];
    for (const peer of peers) {
      // Keep reading (and discarding) so the peer's end of the stream is seen,
      // and no unread bytes turn our close into a reset.
      peer.resumeReading();
      peer.end();
    }
    if (expired) {
      for (const peer of peers) peer.destroy();
    } else {
      // Done once every connection has handed its bytes and its end to the
      // operating system (or closed); the peer closes its side in its own time.
      await Promise.race([Promise.all(peers.map((peer) => peer.finished())), deadline]);
    }
    if (this.connections.size === 0) clock.clearTimeout(timer);
    await Promise.all(unbinding);
    this.state = "closed";
    this.events.emit("close");
  }
}

function toPayload(data: MessageData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (typeof data === "string") return Buffer.from(data, "utf8");
  if (data instanceof Uint8Array) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  throw new InvalidArgumentError("send() takes a Buffer, Uint8Array, ArrayBuffer or string");
}
