/**
 * A Router routes messages between its connections, and to other routers.
 * In every mode the routers of one process reach each other directly, and
 * routers in other threads through MessagePort links (`linkPort`). In
 * MACHINE mode, routers in other processes of the machine are reached over
 * ipc (machine-links.ts). In NETWORK mode machines are joined by tcp links
 * to hubs (hub-links.ts), and a machine's routers without links of their own
 * reach other machines through its gateway (gateway.ts). routes.ts picks
 * the link; docs/router.md draws the whole picture.
 *
 * Delivery is asynchronous (a message sent inside a handler is delivered
 * after the handler returns) and in order per sender. A message the router
 * knows it cannot deliver (unknown router or connection, no handler,
 * connection closed) is answered at once with MSG_NOT_DELIVERED, which
 * rejects the sender's pending request with ENOTDELIVERED.
 */
import { hostname } from "node:os";
import { threadId, type MessagePort } from "node:worker_threads";
import { InvalidArgumentError, ShutdownError } from "../errors.js";
import { realClock, type Clock } from "../connection/clock.js";
import { Queue } from "../util/queue.js";
import { Address, DIRECTORY_CONNECTION_ID, FIRST_CONNECTION_ID } from "./address.js";
import { Connection, type ConnectionHost, type MsgHandler } from "./connection.js";
import { Deadlines } from "./deadlines.js";
import { channels } from "../diagnostics.js";
import { Gateway, gatewayEndpoint } from "./gateway.js";
import { HubDialer, HubListener, type HubLinkOptions } from "./hub-links.js";
import { MachineLinks } from "./machine-links.js";
import { Msg } from "./msg.js";
import type { Hello, LinkScope, PeerLink, PeerLinkHost } from "./peer-link.js";
import { PortLink } from "./port-link.js";
import { Routes } from "./routes.js";
import { VLM, type RouterMode } from "./vlm.js";

export interface RouterOptions {
  /** VLM.LOCAL_MODE (default), VLM.MACHINE_MODE or VLM.NETWORK_MODE. */
  mode?: RouterMode;
  /**
   * This machine's id: the same for every router of the machine, different
   * on every machine. Default: SWITCHBOARD_MACHINE_ID from the environment,
   * else a 31-bit hash of the host name.
   */
  machineId?: number;
  /** This router's id, unique on the machine (default: the next free one in this process). */
  routerId?: number;
  /** Time for request deadlines (tests inject a fake one). */
  clock?: Clock;
}

/** Router ids per thread in MACHINE mode (ids 1 .. 63). */
const ROUTERS_PER_THREAD = 64;

/** (pid mod 2^20) * 4096 + (threadId mod 64) * 64: unique per live thread on the machine. */
function machineRouterIdBase(): number {
  return (process.pid % 0x10_0000) * 4096 + (threadId % 64) * ROUTERS_PER_THREAD;
}

/** SWITCHBOARD_MACHINE_ID, else FNV-1a of the host name in 31 bits (never 0: id 0 is reserved). */
export function defaultMachineId(): number {
  const fromEnv = process.env.SWITCHBOARD_MACHINE_ID;
  if (fromEnv !== undefined && fromEnv !== "") {
    const id = Number(fromEnv);
    if (!Number.isInteger(id) || id < 1 || id > 0xffff_ffff) {
      throw new InvalidArgumentError(`SWITCHBOARD_MACHINE_ID must be an integer from 1 to ${0xffff_ffff}, got ${JSON.stringify(fromEnv)}`);
    }
    return id;
  }
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(hostname(), "utf8")) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return (hash & 0x7fff_ffff) || 1;
}

/** Link timing (a Directory passes its own). */
export interface LinkOptions {
  /** ZMTP heartbeat interval on hub links, ms (default 1000; a peer silent for 3 intervals is dropped). */
  heartbeatMs?: number;
  /** First reconnect delay to a hub, ms (default 100), doubling up to reconnectMaxMs (default 2000). */
  reconnectMs?: number;
  reconnectMaxMs?: number;
  /** Largest message a hub link accepts, bytes (default 64 MiB); a bigger one closes that link with ERR_ZMTP_MESSAGE_TOO_LARGE. */
  maxMessageBytes?: number;
}

/** Told when a link to a router with a directory comes up or goes down (the Directory listens). */
export interface PeerObserver {
  peerUp(link: PeerLink): void;
  peerDown(link: PeerLink): void;
  /** A connection of this router closed. */
  connectionClosed(addr: Address): void;
}

function hubOptions(options: LinkOptions): HubLinkOptions {
  const heartbeatMs = options.heartbeatMs ?? 1_000;
  if (!Number.isInteger(heartbeatMs) || heartbeatMs < 0) throw new InvalidArgumentError(`heartbeatMs must be an integer >= 0, got ${String(heartbeatMs)}`);
  const maxMessageBytes = options.maxMessageBytes ?? 64 * 1024 * 1024;
  if (!Number.isInteger(maxMessageBytes) || maxMessageBytes < 1) throw new InvalidArgumentError(`maxMessageBytes must be a positive integer, got ${String(maxMessageBytes)}`);
  return { heartbeatMs, maxMessageBytes };
}

/** How often a router with network links tries to become its machine's gateway while another one is. */
const GATEWAY_RETRY_MS = 1_000;

/** Stands for "arrived at the gateway endpoint" in route(). */
const GATEWAY_VIA: PeerLink = {
  name: "gateway", scope: "machine", dialed: false, peer: undefined, up: Promise.resolve(),
  send: () => false, sendHello: () => {}, close: () => {},
};

/** The routers of this process, by "machine:router". */
const localRouters = new Map<string, Router>();
/** The same routers by machine id, then router id: route() looks up without building a key string per message. */
const byIds = new Map<number, Map<number, Router>>();
let nextRouterId = 1;

export class Router implements ConnectionHost {
  readonly mode: RouterMode;
  readonly machineId: number;
  readonly routerId: number;
  /** The address of this router's directory connection. */
  readonly directoryAddr: Address;
  /** Resolves once the router has shut down. */
  readonly hasShutdown: Promise<void>;
  /** @internal */
  readonly deadlines: Deadlines;
  /** The time source of request deadlines (and of a Directory on this router, unless it is given one). */
  readonly clock: Clock;
  private readonly connections = new Map<number, Connection>();
  private nextConnectionId = FIRST_CONNECTION_ID;
  private shut = false;
  private markShutdown!: () => void;
  private readonly inbox = new Queue<Msg>();
  private draining = false;

  constructor(options: RouterOptions = {}) {
    this.mode = options.mode ?? VLM.LOCAL_MODE;
    if (this.mode !== VLM.LOCAL_MODE && this.mode !== VLM.MACHINE_MODE && this.mode !== VLM.NETWORK_MODE) {
      throw new InvalidArgumentError(`mode must be VLM.LOCAL_MODE, VLM.MACHINE_MODE or VLM.NETWORK_MODE, got ${JSON.stringify(this.mode)}`);
    }
    this.machineId = options.machineId ?? defaultMachineId();
    if (!Number.isInteger(this.machineId) || this.machineId < 1 || this.machineId > 0xffff_ffff) {
      throw new InvalidArgumentError(`machineId must be an integer from 1 to ${0xffff_ffff}, got ${String(this.machineId)}`);
    }
    if (options.routerId !== undefined) {
      this.routerId = options.routerId;
    } else {
      // In MACHINE mode ids must be unique across the machine's processes
      // and threads (each worker thread has its own module instance): live
      // process ids are, so the id is built from ours and our thread id.
      // Worker threads too (their routers may link back over MessagePorts).
      const base = this.mode !== VLM.LOCAL_MODE || threadId !== 0 ? machineRouterIdBase() : 0;
      while (localRouters.has(`${this.machineId}:${base + nextRouterId}`)) nextRouterId++;
      if (nextRouterId >= ROUTERS_PER_THREAD && base !== 0) {
        throw new InvalidArgumentError(`at most ${ROUTERS_PER_THREAD - 1} MACHINE-mode routers per thread without explicit routerIds`);
      }
      this.routerId = base + nextRouterId++;
    }
    const key = `${this.machineId}:${this.routerId}`;
    if (localRouters.has(key)) throw new InvalidArgumentError(`router ${key} already exists in this process`);
    this.directoryAddr = new Address(this.machineId, this.routerId, DIRECTORY_CONNECTION_ID);
    this.clock = options.clock ?? realClock;
    this.deadlines = new Deadlines(this.clock);
    this.hasShutdown = new Promise((resolve) => (this.markShutdown = resolve));
    localRouters.set(key, this);
    let ofMachine = byIds.get(this.machineId);
    if (!ofMachine) byIds.set(this.machineId, (ofMachine = new Map()));
    ofMachine.set(this.routerId, this);
    if (this.mode !== VLM.LOCAL_MODE) {
      this.links = new MachineLinks(this.machineId, this.routerId, {
        arrived: (msg) => {
          msg.hops++;
          this.route(msg);
        },
        undeliverable: (msg, reason) => this.bounce(msg, reason),
        malformed: (error) => {
          if (channels.messagingMalformed.hasSubscribers) channels.messagingMalformed.publish({ router: key, error });
        },
      });
      this.ready = this.links.listening;
      // Awaiting ready is optional: a failed bind must not become an unhandled rejection.
      this.ready.catch(() => {});
    } else {
      this.ready = Promise.resolve();
    }
  }

  /** Resolves once the router can be reached from other processes (MACHINE mode listens on ipc). */
  readonly ready: Promise<void>;
  private readonly links: MachineLinks | undefined;

  get isShutdown(): boolean {
    return this.shut;
  }

  /** A new connection on this router; without a handler it can only send (and receive replies). */
  newConnection(handler?: MsgHandler): Connection {
    if (this.shut) throw new ShutdownError();
    const id = this.nextConnectionId++;
    const connection = new Connection(this, new Address(this.machineId, this.routerId, id), handler);
    this.connections.set(id, connection);
    return connection;
  }

  /** @internal Opens the router's well-known directory connection (id 1); one per router. */
  newDirectoryConnection(handler: MsgHandler): Connection {
    if (this.shut) throw new ShutdownError();
    if (this.connections.has(DIRECTORY_CONNECTION_ID)) {
      throw new InvalidArgumentError(`router ${this.machineId}:${this.routerId} already has a directory`);
    }
    const connection = new Connection(this, this.directoryAddr, handler);
    this.connections.set(DIRECTORY_CONNECTION_ID, connection);
    return connection;
  }

  /**
   * Links this router to the router at the other end of `port` (another
   * thread's). Call it on both ends; `toParent` on a worker's end makes the
   * link its way to the process's other routers.
   */
  linkPort(port: MessagePort, options: { toParent?: boolean } = {}): PeerLink {
    if (this.shut) throw new ShutdownError();
    return this.track(new PortLink(port, this.linkHost, options.toParent ?? false));
  }

  /**
   * Accepts links from other routers at `endpoint` (a hub): ipc for routers
   * of this machine (scope "machine", MACHINE or NETWORK mode), tcp for
   * other machines (scope "network", NETWORK mode). Resolves with the bound
   * endpoint (port 0 resolved).
   */
  async listen(endpoint: string, scope: LinkScope, options: LinkOptions = {}): Promise<string> {
    this.checkScope(scope);
    const listener = new HubListener(endpoint, scope, this.linkHost, hubOptions(options));
    this.listeners.add(listener);
    try {
      const bound = await listener.bound;
      if (scope === "network") this.claimGateway();
      return bound;
    } catch (error) {
      this.listeners.delete(listener);
      listener.close();
      throw error;
    }
  }

  /** Links to the hub at `endpoint`, reconnecting until the router shuts down. */
  dial(endpoint: string, scope: LinkScope, options: LinkOptions = {}): PeerLink {
    this.checkScope(scope);
    const h = hubOptions(options);
    const link = this.track(new HubDialer(endpoint, scope, this.linkHost, { ...h, reconnectMs: options.reconnectMs ?? 100, reconnectMaxMs: options.reconnectMaxMs ?? 2_000 }));
    if (scope === "network") this.claimGateway();
    return link;
  }

  /** The links whose peers have said hello. */
  get peers(): PeerLink[] {
    return [...this.routes.links];
  }

  /** @internal The directory on this router: its vnets go into every hello, and it hears of peer directories. */
  attachDirectory(vnets: readonly string[], observer: PeerObserver): void {
    this.directoryInfo = { vnets: [...vnets] };
    this.peerObserver = observer;
    for (const link of new Set([...this.allLinks, ...this.routes.links])) link.sendHello();
  }

  /** @internal Sends a message on its way; `via` is the link it arrived on. */
  route(msg: Msg, via?: PeerLink): void {
    if (this.shut) return;
    const to = msg.to;
    if (to.machineId === this.machineId && to.routerId === this.routerId) return this.accept(msg);
    const local = byIds.get(to.machineId)?.get(to.routerId);
    if (local && !local.shut) return local.accept(msg);
    if (msg.hops >= VLM.MAX_HOPS) return this.bounce(msg, `gave up after ${msg.hops} hops on the way to router ${to.machineId}:${to.routerId}`);
    const direct = this.routes.toRouter(to.machineId, to.routerId);
    if (direct && direct !== via && direct.send(msg)) return;
    if (to.machineId === this.machineId) {
      if (this.links) return this.links.send(msg);
      const up = this.routes.uplink("machine", via);
      if (up && up.send(msg)) return;
      return this.bounce(msg, `no route to router ${to.machineId}:${to.routerId}`);
    }
    if (this.mode !== VLM.NETWORK_MODE) {
      return this.bounce(msg, `router ${to.machineId}:${to.routerId} is on another machine; only NETWORK-mode routers reach other machines`);
    }
    const link = this.routes.toMachine(to.machineId, via) ?? this.routes.uplink("network", via);
    if (link && link.send(msg)) return;
    // Hops bound any loop this could make.
    if (!this.isGateway && this.links) {
      this.links.sendTo("gateway", gatewayEndpoint(this.machineId), msg);
      return;
    }
    this.bounce(msg, `no route to machine ${to.machineId}`);
  }

  /** @internal */
  bounce(msg: Msg, reason: string): void {
    if (msg.isReply || !msg.from) return; // never answer a reply, so nothing bounces for ever
    this.route(new Msg(msg.from, VLM.MSG_NOT_DELIVERED, { reason }, { replyId: msg.id, from: this.directoryAddr }));
  }

  /** @internal */
  closeConnection(connection: Connection): void {
    this.connections.delete(connection.addr.connectionId);
    this.peerObserver?.connectionClosed(connection.addr);
  }

  /** Queues a message for one of this router's connections; delivered after the current job. */
  private accept(msg: Msg): void {
    this.inbox.push(msg);
    if (!this.draining) {
      this.draining = true;
      queueMicrotask(this.drain);
    }
  }

  private readonly drain = (): void => {
    for (let msg = this.inbox.shift(); msg; msg = this.inbox.shift()) {
      if (this.shut) break;
      const connection = this.connections.get(msg.to.connectionId);
      if (connection) connection.deliver(msg);
      else this.bounce(msg, `no connection ${msg.to.toString()}`);
    }
    this.draining = false;
  };

  private readonly routes = new Routes();
  private readonly allLinks = new Set<PeerLink>();
  private readonly listeners = new Set<HubListener>();
  private directoryInfo: Hello["directory"] = null;
  private peerObserver: PeerObserver | undefined;
  private gateway: Gateway | undefined;
  private isGateway = false;

  private track<L extends PeerLink>(link: L): L {
    this.allLinks.add(link);
    return link;
  }

  private checkScope(scope: LinkScope): void {
    if (this.shut) throw new ShutdownError();
    if (scope === "network" && this.mode !== VLM.NETWORK_MODE) {
      throw new InvalidArgumentError("links between machines (tcp hubs: netListen, netHubs) need a NETWORK-mode router");
    }
    if (scope === "machine" && this.mode === VLM.LOCAL_MODE) {
      throw new InvalidArgumentError("links to other processes (ipc hubs: hubListen, hubs) need a MACHINE- or NETWORK-mode router");
    }
    if (scope !== "network" && scope !== "machine") throw new InvalidArgumentError(`link scope must be "machine" or "network", got ${String(scope)}`);
  }

  /** The first router of the machine with network links becomes its gateway. */
  private claimGateway(): void {
    if (this.gateway || this.shut) return;
    const gateway = new Gateway(this.machineId, {
      arrived: (msg) => {
        msg.hops++;
        this.route(msg, GATEWAY_VIA);
      },
      malformed: (error) => this.reportMalformed(error),
    });
    this.gateway = gateway;
    void gateway.claimed.then((claimed) => {
      if (this.gateway !== gateway || this.shut) return;
      this.isGateway = claimed;
      if (!claimed) {
        // Another router is the gateway; take over if it goes.
        this.gateway = undefined;
        this.clock.setTimeout(() => this.claimGateway(), GATEWAY_RETRY_MS);
      }
    });
  }

  private reportLink(link: PeerLink, peer: Hello, up: boolean): void {
    if (channels.messagingLink.hasSubscribers) {
      const router = `${this.machineId}:${this.routerId}`;
      channels.messagingLink.publish({ router, link: link.name, scope: link.scope, peer: `${peer.machineId}:${peer.routerId}`, up });
    }
  }

  private reportMalformed(error: unknown, link?: PeerLink): void {
    if (channels.messagingMalformed.hasSubscribers) {
      channels.messagingMalformed.publish({ router: `${this.machineId}:${this.routerId}`, link: link?.name, error });
    }
  }

  private readonly linkHost: PeerLinkHost = {
    hello: () => ({ machineId: this.machineId, routerId: this.routerId, directory: this.directoryInfo }),
    linkUp: (link) => {
      if (this.shut) return;
      this.routes.add(link);
      if (link.peer) this.reportLink(link, link.peer, true);
      if (link.peer?.directory) this.peerObserver?.peerUp(link);
      else this.peerObserver?.peerDown(link);
    },
    linkDown: (link, peer) => {
      this.routes.remove(link);
      this.reportLink(link, peer, false);
      if (link instanceof PortLink) this.allLinks.delete(link); // a closed port never comes back; a dialer reconnects
      if (!this.shut) this.peerObserver?.peerDown(link);
    },
    arrived: (msg, link) => {
      msg.hops++;
      this.route(msg, link);
    },
    undeliverable: (msg, reason) => this.bounce(msg, reason),
    malformed: (error, link) => this.reportMalformed(error, link),
  };

  /** Shuts down: pending requests of its connections reject with ESHUTDOWN; messages to it bounce. */
  shutdown(): void {
    if (this.shut) return;
    this.shut = true;
    const error = new ShutdownError();
    for (const connection of this.connections.values()) connection.failAll(error);
    this.connections.clear();
    this.inbox.clear();
    this.deadlines.clear();
    this.links?.close();
    this.gateway?.close();
    for (const listener of this.listeners) listener.close();
    this.listeners.clear();
    for (const link of [...this.allLinks]) link.close();
    this.allLinks.clear();
    localRouters.delete(`${this.machineId}:${this.routerId}`);
    const ofMachine = byIds.get(this.machineId);
    ofMachine?.delete(this.routerId);
    if (ofMachine?.size === 0) byIds.delete(this.machineId);
    this.markShutdown();
  }
}
