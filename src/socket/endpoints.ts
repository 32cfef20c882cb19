/**
 * Binding and connecting for one socket: listeners (tcp, ipc, inproc),
 * connecters with reconnect back-off, and the links each produces. Reports
 * lifecycle events on the socket's observer and the diagnostics channels.
 *
 * A connecter's life:
 * ```
 *  connect() -> dial --ok--> handshake --ok--> linked --lost--> wait(backoff) -> dial ...
 *                 \--fail--> wait(backoff) -> dial         \--fatal protocol error--> stopped
 * ```
 */
import type { Socket as NetSocket } from "node:net";
import { ClosedError, NotFoundError, ProtocolError, type SwitchboardError, TransportError } from "../errors.js";
import { channels } from "../diagnostics.js";
import { reconnectDelay } from "../connection/backoff.js";
import type { TimerHandle } from "../connection/clock.js";
import { InprocLink, type InprocSide } from "../connection/inproc-link.js";
import type { Link } from "../connection/link.js";
import { ZmtpConnection, type ZmtpOptions } from "../connection/zmtp-connection.js";
import { parseEndpoint, type Endpoint } from "../transport/endpoint.js";
import { bindInproc, whenInprocBound, type InprocBinding } from "../transport/inproc.js";
import { dial, listen, type Listener } from "../transport/stream.js";
import { Pipe } from "./pipe.js";
import { reportHandshakeFailure, reportProtocolError } from "./report.js";
import type { Socket } from "./socket.js";

interface InprocRequest {
  side: InprocSide;
  address: string;
  /** Hands the connecter its end, or an error when the pair is refused. */
  complete(link: InprocLink | undefined, error?: SwitchboardError): void;
}

interface Bound {
  address: string;
  close(): Promise<void>;
  /** Pipes accepted through this endpoint. */
  pipes: Set<Pipe>;
  /** Accepted connections still in their handshake. */
  handshaking: Set<ZmtpConnection>;
  /** False once unbound (or the socket closed). */
  open: boolean;
}

export interface ConnectOptions {
  /** Names the peer of this connection (ZMQ_CONNECT_ROUTING_ID), for Router. */
  routingId?: string;
}

export class Endpoints {
  lastEndpoint: string | null = null;
  private readonly bound = new Map<string, Bound>();
  /** Connecters by the address given to connect(); connecting twice makes two links, as in libzmq. */
  private readonly connecters = new Map<string, Connecter[]>();
  private readonly pipeOwners = new Map<Pipe, Bound | Connecter>();

  constructor(private readonly socket: Socket) {}

  /** ZMTP options for a new connection. */
  zmtpOptions(address: string): ZmtpOptions {
    const o = this.socket.options;
    return {
      socketType: this.socket.socketType,
      routingId: o.routingId === null ? undefined : Buffer.from(o.routingId),
      maxMessageSize: o.maxMessageSize,
      handshakeInterval: o.handshakeInterval,
      heartbeat: { interval: o.heartbeatInterval, timeout: o.heartbeatTimeout, ttl: o.heartbeatTimeToLive },
      clock: this.socket.clock,
      address,
    };
  }

  async bind(address: string): Promise<void> {
    const ep = parseEndpoint(address, "bind");
    if (ep.transport === "inproc") return this.bindInproc(address, ep.name);
    let listener: Listener;
    try {
      listener = await listen(ep, (stream) => this.accept(bound, stream), {
        backlog: this.socket.options.backlog,
        ipv6: this.socket.options.ipv6,
      });
    } catch (error) {
      const e = TransportError.from(error, address);
      this.socket.events.emit({ type: "bind:error", address, error: e });
      throw e;
    }
    const bound: Bound = {
      address: listener.endpoint,
      close: () => listener.close(),
      pipes: new Set(),
      handshaking: new Set(),
      open: true,
    };
    if (this.socket.closed) {
      await listener.close();
      throw new ClosedError("Socket was closed while binding", { address });
    }
    this.bound.set(listener.endpoint, bound);
    if (listener.endpoint !== address) this.bound.set(address, bound);
    this.lastEndpoint = listener.endpoint;
    this.socket.events.emit({ type: "bind", address: listener.endpoint });
  }

  private bindInproc(address: string, name: string): void {
    const binding: InprocBinding = {
      accept: (request) => {
        const req = request as InprocRequest;
        const socket = this.socket;
        let pair: [InprocLink, InprocLink];
        try {
          pair = InprocLink.pair(req.side, { socketType: socket.socketType, routingId: routingIdOf(socket) }, address);
        } catch (error) {
          req.complete(undefined, error as SwitchboardError);
          return;
        }
        const [theirs, mine] = pair; // [connecter's end, binder's end]
        const pipe = new Pipe(socket, address, false);
        if (!socket.addPipe(pipe, mine)) {
          req.complete(undefined, new ProtocolError("ERR_ZMTP_UNSPECIFIED", "peer refused the connection", { address }));
          return;
        }
        bound.pipes.add(pipe);
        this.pipeOwners.set(pipe, bound);
        socket.events.emit({ type: "accept", address });
        socket.events.emit({ type: "handshake", address });
        req.complete(theirs);
      },
    };
    let unbind: () => void = () => {};
    // Declared before bindInproc(), which may accept waiting connecters at once.
    const bound: Bound = { address, close: async () => unbind(), pipes: new Set(), handshaking: new Set(), open: true };
    try {
      unbind = bindInproc(name, binding);
    } catch (error) {
      this.socket.events.emit({ type: "bind:error", address, error: error as SwitchboardError });
      throw error;
    }
    this.bound.set(address, bound);
    this.lastEndpoint = address;
    this.socket.events.emit({ type: "bind", address });
  }

  private accept(bound: Bound, stream: NetSocket): void {
    const socket = this.socket;
    if (socket.closed) {
      stream.destroy();
      return;
    }
    const address = bound.address;
    socket.events.emit({ type: "accept", address });
    if (channels.accept.hasSubscribers) channels.accept.publish({ socketType: socket.socketType, address });
    const connection = new ZmtpConnection(stream, this.zmtpOptions(address), {
      ready: (connection) => {
        bound.handshaking.delete(connection);
        if (!bound.open || socket.closed) {
          connection.destroy();
          return;
        }
        const pipe = new Pipe(socket, address, false);
        if (!socket.addPipe(pipe, connection)) {
          connection.destroy();
          return;
        }
        bound.pipes.add(pipe);
        this.pipeOwners.set(pipe, bound);
        socket.events.emit({ type: "handshake", address });
      },
      closed: (connection, error, wasReady) => {
        bound.handshaking.delete(connection);
        if (!wasReady && bound.open) reportHandshakeFailure(socket, address, error);
      },
    });
    bound.handshaking.add(connection);
  }

  async unbind(address: string): Promise<void> {
    const bound = this.bound.get(address);
    if (!bound) throw new NotFoundError(`not bound to ${address}`, { address });
    for (const [key, value] of this.bound) if (value === bound) this.bound.delete(key);
    bound.open = false;
    for (const connection of bound.handshaking) connection.destroy();
    await bound.close();
    // Its peers are let go like on close(): queued messages flush for up to
    // `linger` ms, and no new message is routed to them.
    for (const pipe of bound.pipes) {
      pipe.letGo(this.socket.options.linger, this.socket.clock);
      this.pipeOwners.delete(pipe);
      this.socket.removePipe(pipe);
    }
    bound.pipes.clear();
    this.socket.events.emit({ type: "close", address: bound.address });
  }

  connect(address: string, options: ConnectOptions): void {
    const ep = parseEndpoint(address, "connect");
    const connecter = new Connecter(this.socket, this, address, ep, options);
    const list = this.connecters.get(address);
    if (list) list.push(connecter);
    else this.connecters.set(address, [connecter]);
    connecter.start();
  }

  /** Stops every connection made by connect(address). */
  disconnect(address: string): void {
    const list = this.connecters.get(address);
    if (!list) throw new NotFoundError(`not connected to ${address}`, { address });
    this.connecters.delete(address);
    for (const connecter of list) connecter.stop(this.socket.options.linger);
  }

  /** Registers which endpoint a pipe came from. */
  own(pipe: Pipe, owner: Connecter): void {
    this.pipeOwners.set(pipe, owner);
  }

  /** A pipe's link closed: bind-side pipes go away; connect-side ones wait for the reconnect. */
  linkClosed(pipe: Pipe, error: SwitchboardError | undefined): void {
    const owner = this.pipeOwners.get(pipe);
    if (error instanceof ProtocolError) reportProtocolError(this.socket, pipe.address, error);
    this.socket.events.emit(error ? { type: "disconnect", address: pipe.address, error } : { type: "disconnect", address: pipe.address });
    if (channels.disconnect.hasSubscribers) {
      channels.disconnect.publish({ socketType: this.socket.socketType, address: pipe.address, error });
    }
    if (owner instanceof Connecter) {
      owner.linkLost(pipe, error);
    } else {
      owner?.pipes.delete(pipe);
      this.pipeOwners.delete(pipe);
      this.socket.removePipe(pipe);
    }
  }

  /** Called by a connecter when it drops a pipe for good. */
  forget(pipe: Pipe): void {
    this.pipeOwners.delete(pipe);
    this.socket.removePipe(pipe);
  }

  /** Closes every listener and connecter; links flush for up to `linger` ms. */
  close(linger: number): void {
    for (const bound of new Set(this.bound.values())) {
      bound.open = false;
      for (const connection of bound.handshaking) connection.destroy();
      void bound.close();
    }
    this.bound.clear();
    for (const list of this.connecters.values()) for (const connecter of list) connecter.stop(linger);
    this.connecters.clear();
    for (const pipe of [...this.socket.pipes]) {
      if (!this.pipeOwners.has(pipe) || this.pipeOwners.get(pipe) instanceof Connecter) continue;
      pipe.letGo(linger, this.socket.clock);
    }
  }
}


function routingIdOf(socket: Socket): Buffer | undefined {
  const id = socket.options.routingId;
  return id === null ? undefined : Buffer.from(id);
}


/** One connect() endpoint: dials, handshakes, and reconnects with back-off. */
class Connecter {
  private pipe: Pipe | undefined;
  private attempt = 0;
  private timer: TimerHandle | undefined;
  private link: Link | undefined;
  /** The connection in its handshake, if one is. */
  private handshaking: ZmtpConnection | undefined;
  private cancelInproc: (() => void) | undefined;
  private stopped = false;
  private readonly abort = new AbortController();

  constructor(
    private readonly socket: Socket,
    private readonly endpoints: Endpoints,
    private readonly address: string,
    private readonly endpoint: Endpoint,
    private readonly options: ConnectOptions,
  ) {}

  start(): void {
    if (this.socket.xEagerPipes() && !this.socket.options.immediate) {
      this.pipe = this.newPipe(true);
      this.socket.addPipe(this.pipe, undefined);
    }
    // Deferred, so events come after connect() returns (an inproc peer may
    // link synchronously), as with zeromq.js.
    queueMicrotask(() => this.dial());
  }

  private newPipe(persistent: boolean): Pipe {
    const pipe = new Pipe(this.socket, this.address, persistent);
    if (this.options.routingId !== undefined) pipe.routingId = Buffer.from(this.options.routingId);
    this.endpoints.own(pipe, this);
    return pipe;
  }

  private dial(): void {
    if (this.stopped) return;
    const ep = this.endpoint;
    if (ep.transport === "inproc") {
      this.cancelInproc = whenInprocBound(ep.name, (binding) => {
        this.cancelInproc = undefined;
        binding.accept({
          side: { socketType: this.socket.socketType, routingId: routingIdOf(this.socket) },
          address: this.address,
          complete: (link, error) => {
            if (this.stopped) {
              link?.destroy();
            } else if (link) {
              this.socket.events.emit({ type: "connect", address: this.address });
              this.linked(link);
            } else {
              reportHandshakeFailure(this.socket, this.address, error);
            }
          },
        } satisfies InprocRequest);
      });
      return;
    }
    this.socket.events.emit({ type: "connect:delay", address: this.address });
    const timeoutMs = this.socket.options.connectTimeout;
    dial(ep, { signal: this.abort.signal, ipv6: this.socket.options.ipv6, ...(timeoutMs > 0 ? { timeoutMs } : {}) }).then(
      (stream) => this.connected(stream),
      () => this.retry(),
    );
  }

  private connected(stream: NetSocket): void {
    if (this.stopped) {
      stream.destroy();
      return;
    }
    const socket = this.socket;
    socket.events.emit({ type: "connect", address: this.address });
    if (channels.connect.hasSubscribers) channels.connect.publish({ socketType: socket.socketType, address: this.address });
    if (this.stopped) {
      stream.destroy(); // a listener closed the socket or disconnected
      return;
    }
    this.handshaking = new ZmtpConnection(stream, this.endpoints.zmtpOptions(this.address), {
      ready: (connection) => {
        this.handshaking = undefined;
        this.linked(connection);
      },
      closed: (_connection, error, wasReady) => {
        this.handshaking = undefined;
        if (wasReady || this.stopped) return; // linkLost() handles a ready link
        reportHandshakeFailure(socket, this.address, error);
        if (error instanceof ProtocolError && error.fatal) {
          this.stopped = true; // as libzmq: no reconnect after a protocol error
          return;
        }
        this.retry();
      },
    });
  }

  private linked(link: Link): void {
    if (this.stopped) {
      link.destroy();
      return;
    }
    const socket = this.socket;
    const pipe = this.pipe ?? this.newPipe(false);
    const accepted = this.pipe ? socket.attachLink(pipe, link) : socket.addPipe(pipe, link);
    if (!accepted) {
      link.destroy();
      if (!this.pipe) this.endpoints.forget(pipe);
      this.retry();
      return;
    }
    if (!this.pipe) this.pipe = pipe;
    this.attempt = 0;
    this.link = link;
    socket.events.emit({ type: "handshake", address: this.address });
  }

  /** The pipe's link went away. */
  linkLost(pipe: Pipe, error: SwitchboardError | undefined): void {
    this.link = undefined;
    if (!pipe.persistent) {
      this.pipe = undefined;
      this.endpoints.forget(pipe);
    }
    if (this.stopped) return;
    if (error instanceof ProtocolError && error.fatal) {
      this.stopped = true;
      return;
    }
    // inproc too waits out the back-off: two peers that take a routing id
    // over from each other must not spin.
    this.retry();
  }

  private retry(): void {
    if (this.stopped) return;
    const delay = reconnectDelay(
      { interval: this.socket.options.reconnectInterval, maxInterval: this.socket.options.reconnectMaxInterval },
      ++this.attempt,
    );
    if (delay < 0) {
      this.stopped = true;
      return;
    }
    this.socket.events.emit({ type: "connect:retry", address: this.address, interval: delay });
    if (this.stopped) return; // a listener may have closed the socket or disconnected
    this.timer = this.socket.clock.setTimeout(() => {
      this.timer = undefined;
      this.dial();
    }, delay, true);
  }

  /** Stops for good; the link flushes for up to `linger` ms (0 = drop at once). */
  stop(linger: number): void {
    this.stopped = true;
    if (this.timer !== undefined) this.socket.clock.clearTimeout(this.timer);
    this.cancelInproc?.();
    this.abort.abort();
    this.handshaking?.destroy();
    const pipe = this.pipe;
    if (pipe) {
      if (pipe.link) pipe.letGo(linger, this.socket.clock);
      this.endpoints.forget(pipe);
    }
  }
}
