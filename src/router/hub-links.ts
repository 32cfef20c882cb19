/**
 * Peer links over the ZeroMQ core: a hub binds a ROUTER socket at its
 * endpoint (`hubListen` over ipc, `netListen` over tcp) and every router
 * that uses the hub connects a DEALER to it (`hubs`, `netHubs`). Each
 * connection is one PeerLink; every ZeroMQ message on it is one frame, an
 * encoded Msg.
 *
 * ```
 *   router A ─ DEALER ──LINK_HELLO──▶ ROUTER ─ hub router H
 *            ◀──────────LINK_HELLO──
 *            ◀═══════ Msgs both ways ═══════▶
 * ```
 *
 * The dialer says hello on every handshake (so after each reconnect), the
 * hub answers with its own. ZMTP heartbeats detect a silent peer; a peer
 * that goes away takes its link (and the routes through it) down at once.
 */
import { Dealer, Router as ZRouter } from "../socket/index.js";
import { encodeMsgFrame } from "./codec.js";
import type { Msg } from "./msg.js";
import { helloMsg, LinkBase, type Hello, type LinkScope, type PeerLinkHost } from "./peer-link.js";

export interface HubLinkOptions {
  /** ZMTP heartbeat interval in ms; a peer silent for 3 intervals is dropped. 0 turns heartbeats off. */
  heartbeatMs: number;
  /** Largest message accepted, bytes. */
  maxMessageBytes: number;
}

const frame = encodeMsgFrame;

function socketOptions(options: HubLinkOptions): { heartbeatInterval: number; heartbeatTimeout: number; maxMessageSize: number } {
  return { heartbeatInterval: options.heartbeatMs, heartbeatTimeout: options.heartbeatMs * 3, maxMessageSize: options.maxMessageBytes };
}

/** A hub's side: one ROUTER socket, one link per connected router. */
export class HubListener {
  private readonly socket: ZRouter;
  private readonly peers = new Map<string, AcceptedLink>();
  /** Resolves with the endpoint actually bound (a tcp port 0 resolved). */
  readonly bound: Promise<string>;

  constructor(
    readonly endpoint: string,
    readonly scope: LinkScope,
    private readonly host: PeerLinkHost,
    options: HubLinkOptions,
  ) {
    this.socket = new ZRouter({ mandatory: true, linger: 0, ...socketOptions(options) });
    this.socket.onPeerGone = (id) => {
      const key = id.toString("latin1");
      const link = this.peers.get(key);
      if (!link) return;
      this.peers.delete(key);
      link.gone();
    };
    this.bound = this.socket.bind(endpoint).then(() => {
      void this.receive();
      return this.socket.lastEndpoint ?? endpoint;
    });
  }

  close(): void {
    const links = [...this.peers.values()];
    this.peers.clear();
    this.socket.close();
    for (const link of links) link.gone();
  }

  private async receive(): Promise<void> {
    try {
      for await (const [id, bytes] of this.socket) {
        if (!id || !bytes) continue;
        const key = id.toString("latin1");
        let link = this.peers.get(key);
        if (!link) {
          link = new AcceptedLink(this.socket, id, `${this.endpoint} (accepted)`, this.scope, this.host);
          this.peers.set(key, link);
        }
        link.receive(bytes);
      }
    } catch {
      // The socket closed.
    }
  }
}

class AcceptedLink extends LinkBase {
  readonly dialed = false;
  private down = false;

  constructor(
    private readonly socket: ZRouter,
    private readonly id: Buffer,
    readonly name: string,
    readonly scope: LinkScope,
    host: PeerLinkHost,
  ) {
    super(host);
  }

  receive(bytes: Buffer): void {
    this.receiveBytes(bytes);
  }

  /** The hub answers a connection's first hello with its own. */
  protected override greeted(hello: Hello): void {
    const first = this.peer === undefined;
    super.greeted(hello);
    if (first) this.sendHello();
  }

  send(msg: Msg): boolean {
    if (!this.peer || this.down) return false;
    this.socket.send([this.id, frame(msg)]).catch((error: Error) => this.host.undeliverable(msg, `link ${this.name} lost it: ${error.message}`));
    return true;
  }

  sendHello(): void {
    if (this.down) return;
    this.socket.send([this.id, frame(helloMsg(this.host.hello()))]).catch(() => {});
  }

  /** The peer disconnected (or the hub closed). */
  gone(): void {
    if (this.down) return;
    this.down = true;
    this.lost();
  }

  close(): void {
    this.gone();
  }
}

/** A router's side of a hub it uses: a DEALER that reconnects until closed. */
export class HubDialer extends LinkBase {
  readonly dialed = true;
  readonly name: string;
  private readonly socket: Dealer;
  private closed = false;

  constructor(
    readonly endpoint: string,
    readonly scope: LinkScope,
    host: PeerLinkHost,
    options: HubLinkOptions & { reconnectMs: number; reconnectMaxMs: number },
  ) {
    super(host);
    this.name = `${endpoint} (dialed)`;
    this.socket = new Dealer({
      linger: 0,
      immediate: true,
      reconnectInterval: options.reconnectMs,
      reconnectMaxInterval: options.reconnectMaxMs,
      ...socketOptions(options),
    });
    this.socket.events.on("handshake", () => this.sendHello());
    this.socket.events.on("disconnect", () => this.lost());
    this.socket.connect(endpoint);
    void this.receive();
  }

  send(msg: Msg): boolean {
    if (!this.peer || this.closed) return false;
    this.socket.send(frame(msg)).catch((error: Error) => this.host.undeliverable(msg, `link ${this.name} lost it: ${error.message}`));
    return true;
  }

  sendHello(): void {
    if (this.closed) return;
    this.socket.send(frame(helloMsg(this.host.hello()))).catch(() => {});
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.close();
    this.lost();
  }

  private async receive(): Promise<void> {
    try {
      for await (const [bytes] of this.socket) if (bytes) this.receiveBytes(bytes);
    } catch {
      // The socket closed.
    }
  }
}
