/**
 * A Router routes messages between its connections, and to other routers.
 * In every mode the routers of one process reach each other directly. In
 * MACHINE mode, routers in other processes of the machine are reached over
 * ipc (machine-links.ts). NETWORK mode (tcp between machines) is not
 * available yet.
 *
 * Delivery is asynchronous (a message sent inside a handler is delivered
 * after the handler returns) and in order per sender. A message the router
 * knows it cannot deliver (unknown router or connection, no handler,
 * connection closed) is answered at once with MSG_NOT_DELIVERED, which
 * rejects the sender's pending request with ENOTDELIVERED.
 */
import { threadId } from "node:worker_threads";
import { InvalidArgumentError, NotSupportedError, ShutdownError } from "../errors.js";
import { realClock, type Clock } from "../connection/clock.js";
import { Queue } from "../util/queue.js";
import { Address, DIRECTORY_CONNECTION_ID, FIRST_CONNECTION_ID } from "./address.js";
import { Connection, type ConnectionHost, type MsgHandler } from "./connection.js";
import { Deadlines } from "./deadlines.js";
import { channels } from "../diagnostics.js";
import { MachineLinks } from "./machine-links.js";
import { Msg } from "./msg.js";
import { VLM, type RouterMode } from "./vlm.js";

export interface RouterOptions {
  /** VLM.LOCAL_MODE (default), VLM.MACHINE_MODE or VLM.NETWORK_MODE. */
  mode?: RouterMode;
  /** This machine's id (default 1). */
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

/** The routers of this process, by "machine:router". */
const localRouters = new Map<string, Router>();
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
  private readonly connections = new Map<number, Connection>();
  private nextConnectionId = FIRST_CONNECTION_ID;
  private shut = false;
  private markShutdown!: () => void;
  private readonly inbox = new Queue<Msg>();
  private draining = false;

  constructor(options: RouterOptions = {}) {
    this.mode = options.mode ?? VLM.LOCAL_MODE;
    if (this.mode === VLM.NETWORK_MODE) {
      throw new NotSupportedError("NETWORK mode is not available yet; use VLM.LOCAL_MODE or VLM.MACHINE_MODE");
    }
    this.machineId = options.machineId ?? 1;
    if (options.routerId !== undefined) {
      this.routerId = options.routerId;
    } else {
      // In MACHINE mode ids must be unique across the machine's processes
      // and threads (each worker thread has its own module instance): live
      // process ids are, so the id is built from ours and our thread id.
      const base = this.mode === VLM.MACHINE_MODE ? machineRouterIdBase() : 0;
      while (localRouters.has(`${this.machineId}:${base + nextRouterId}`)) nextRouterId++;
      if (nextRouterId >= ROUTERS_PER_THREAD && this.mode === VLM.MACHINE_MODE) {
        throw new InvalidArgumentError(`at most ${ROUTERS_PER_THREAD - 1} MACHINE-mode routers per thread without explicit routerIds`);
      }
      this.routerId = base + nextRouterId++;
    }
    const key = `${this.machineId}:${this.routerId}`;
    if (localRouters.has(key)) throw new InvalidArgumentError(`router ${key} already exists in this process`);
    this.directoryAddr = new Address(this.machineId, this.routerId, DIRECTORY_CONNECTION_ID);
    this.deadlines = new Deadlines(options.clock ?? realClock);
    this.hasShutdown = new Promise((resolve) => (this.markShutdown = resolve));
    localRouters.set(key, this);
    if (this.mode === VLM.MACHINE_MODE) {
      this.links = new MachineLinks(this.machineId, this.routerId, {
        arrived: (msg) => this.accept(msg),
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

  /** @internal Sends a message on its way. */
  route(msg: Msg): void {
    if (this.shut) return;
    const to = msg.to;
    const router = to.machineId === this.machineId && to.routerId === this.routerId
      ? this
      : localRouters.get(`${to.machineId}:${to.routerId}`);
    if (router && !router.shut) {
      router.accept(msg);
    } else if (!router && this.links && to.machineId === this.machineId) {
      this.links.send(msg);
    } else {
      this.bounce(msg, `no route to router ${to.machineId}:${to.routerId}`);
    }
  }

  /** @internal */
  bounce(msg: Msg, reason: string): void {
    if (msg.isReply || !msg.from) return; // never answer a reply, so nothing bounces for ever
    this.route(new Msg(msg.from, VLM.MSG_NOT_DELIVERED, { reason }, { replyId: msg.id, from: this.directoryAddr }));
  }

  /** @internal */
  closeConnection(connection: Connection): void {
    this.connections.delete(connection.addr.connectionId);
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
    localRouters.delete(`${this.machineId}:${this.routerId}`);
    this.markShutdown();
  }
}
