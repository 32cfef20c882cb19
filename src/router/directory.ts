/**
 * The Directory: a router's well-known connection (connection id 1) that
 * knows who provides which responsibility, and answers queries.
 *
 * | subject | contents | reply contents |
 * |---|---|---|
 * | REGISTER_ENTRY | an entry (Entry.toJSON form), optionally with `ttlMs` | null |
 * | UNREGISTER_ENTRY | { addr, service } | { removed: boolean } |
 * | GET_ENTRIES | { service, params?, vnet?, perms? } | entries, each in Entry.toJSON form |
 * | DIRECTORY_SYNC | a replica update (replica.ts), between directories only | none |
 *
 * Directories replicate: a directory links to the hubs it is given (`hubs`
 * over ipc on this machine, `netHubs` over tcp to other machines), and a hub
 * accepts such links (`hubListen`, `netListen`). Over every link the two
 * directories exchange their entries (per vnet; local-vnet entries stay on
 * the machine), so each one answers queries from its own replica. A
 * directory links to every hub in its lists at once: when one dies its
 * entries are still known to the others, and when it comes back the link
 * re-forms and the entries are sent to it again.
 *
 * Liveness: a registration with `ttlMs` lives that long unless renewed (the
 * `provide()` helper renews it); one without lives as long as the
 * registering connection when that is on this router, else `entryTtlMs`.
 * Entries learned from other directories expire when their origin stops
 * renewing them, and go at once when the only link they came over drops.
 */
import { InvalidArgumentError } from "../errors.js";
import type { Clock, TimerHandle } from "../connection/clock.js";
import { channels } from "../diagnostics.js";
import type { Connection } from "./connection.js";
import { Address, DIRECTORY_CONNECTION_ID } from "./address.js";
import { Entry, type EntryQuery } from "./entry.js";
import { Msg } from "./msg.js";
import type { PeerLink } from "./peer-link.js";
import { Replica } from "./replica.js";
import type { LinkOptions, Router } from "./router.js";
import { VLM, type HandlerInstruction } from "./vlm.js";

export interface DirectoryOptions {
  /** The vnets this directory serves: what it replicates, and what a query without a vnet sees (default ["local"]). */
  vnets?: readonly string[];
  /** Be this machine's local hub: accept links from the machine's other directories at this ipc endpoint. */
  hubListen?: string;
  /** Local hubs (ipc endpoints) to link to. */
  hubs?: readonly string[];
  /** Be a network hub: accept links from other machines at this tcp endpoint (NETWORK mode). */
  netListen?: string;
  /** Network hubs (tcp endpoints) to link to (NETWORK mode). */
  netHubs?: readonly string[];
  /** How often the directory renews, expires and syncs, in ms (default 1000). */
  heartbeatMs?: number;
  /** Life of a registration that gives no ttlMs and whose provider is on another router, ms (default 30 s). */
  entryTtlMs?: number;
  /** Hub links: ZMTP heartbeats (default every 1000 ms, a silent peer dropped after 3), reconnect delays, message size limit. */
  link?: LinkOptions;
  /** Entries held at most (default 100 000); beyond it new ones are refused. */
  maxEntries?: number;
  /** Time source (default: the router's). */
  clock?: Clock;
}

/** A full sync every this many heartbeats repairs anything lost on the way. */
const ANTI_ENTROPY_EVERY = 10;

interface Peer {
  readonly key: string;
  readonly addr: Address;
  readonly links: Set<PeerLink>;
}

export class Directory {
  readonly conn: Connection;
  readonly vnets: readonly string[];
  /** Resolves once the hub endpoints are bound (rejects if one cannot be). */
  readonly ready: Promise<void>;
  /** The endpoints actually bound (tcp port 0 resolved), once ready. */
  hubEndpoint: string | undefined;
  netEndpoint: string | undefined;
  private readonly replica: Replica;
  private readonly clock: Clock;
  private readonly heartbeatMs: number;
  private readonly entryTtlMs: number;
  /** Registrations held while their connection (on this router) is open, by entry key. */
  private readonly bound = new Map<string, Entry>();
  private readonly peers = new Map<string, Peer>();
  private timer: TimerHandle | undefined;
  private ticks = 0;
  private flushing = false;
  private closed = false;

  constructor(readonly router: Router, options: DirectoryOptions = {}) {
    this.vnets = options.vnets ?? [VLM.LOCAL_VNET];
    if (!Array.isArray(this.vnets) || this.vnets.length === 0 || this.vnets.some((v) => typeof v !== "string" || v === "")) {
      throw new InvalidArgumentError("vnets must be a non-empty list of non-empty strings");
    }
    // Refuse what cannot work before taking the router's directory connection.
    if ((options.hubListen !== undefined || options.hubs?.length) && router.mode === VLM.LOCAL_MODE) {
      throw new InvalidArgumentError("hubListen and hubs link processes over ipc: they need a MACHINE- or NETWORK-mode router");
    }
    if ((options.netListen !== undefined || options.netHubs?.length) && router.mode !== VLM.NETWORK_MODE) {
      throw new InvalidArgumentError("netListen and netHubs link machines over tcp: they need a NETWORK-mode router");
    }
    this.clock = options.clock ?? router.clock;
    this.heartbeatMs = positive(options.heartbeatMs ?? 1_000, "heartbeatMs");
    this.entryTtlMs = positive(options.entryTtlMs ?? 30_000, "entryTtlMs");
    this.replica = new Replica(`${router.machineId}:${router.routerId}`, {
      clock: this.clock,
      ...(options.maxEntries !== undefined ? { maxEntries: options.maxEntries } : {}),
    });
    this.conn = router.newDirectoryConnection((msg) => this.handle(msg));
    router.attachDirectory(this.vnets, {
      peerUp: (link) => this.peerUp(link),
      peerDown: (link) => this.peerDown(link),
      connectionClosed: (addr) => this.connectionClosed(addr),
    });
    const link = options.link ?? {};
    const binds: Promise<void>[] = [];
    if (options.hubListen !== undefined) {
      binds.push(router.listen(options.hubListen, "machine", link).then((e) => void (this.hubEndpoint = e)));
    }
    if (options.netListen !== undefined) {
      binds.push(router.listen(options.netListen, "network", link).then((e) => void (this.netEndpoint = e)));
    }
    for (const hub of options.hubs ?? []) router.dial(hub, "machine", link);
    for (const hub of options.netHubs ?? []) router.dial(hub, "network", link);
    this.ready = Promise.all(binds).then(() => {});
    this.ready.catch(() => {}); // awaiting ready is optional
    this.schedule();
    void router.hasShutdown.then(() => this.close());
  }

  /** The live entries this directory holds (its own and replicated ones). */
  get size(): number {
    return this.replica.size;
  }

  /** The live entries answering `query` (without a vnet: the vnets this directory serves). */
  query(query: EntryQuery): Entry[] {
    return this.replica.query({ ...query, vnet: query.vnet ?? this.vnets });
  }

  /** The directories this one exchanges entries with, by router ("machine:router"). */
  get peerKeys(): string[] {
    return [...this.peers.keys()];
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = this.clock.setTimeout(() => this.tick(), this.heartbeatMs);
  }

  private tick(): void {
    if (this.closed) return;
    for (const entry of this.bound.values()) this.replica.register(entry, this.entryTtlMs);
    this.replica.expire();
    if (++this.ticks % ANTI_ENTROPY_EVERY === 0) this.replica.antiEntropy();
    this.flush();
    this.schedule();
  }

  /** Sends what changed, once per turn however many changes there were. */
  private changed(): void {
    if (this.flushing || this.closed) return;
    this.flushing = true;
    queueMicrotask(() => {
      this.flushing = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.closed) return;
    for (const { peer, update } of this.replica.drain()) {
      const target = this.peers.get(peer);
      if (target) void this.conn.send(new Msg(target.addr, VLM.DIRECTORY_SYNC, update)).catch(() => {});
    }
  }

  private peerUp(link: PeerLink): void {
    const hello = link.peer;
    if (!hello?.directory || this.closed) return;
    const key = `${hello.machineId}:${hello.routerId}`;
    let peer = this.peers.get(key);
    if (!peer) {
      peer = { key, addr: new Address(hello.machineId, hello.routerId, DIRECTORY_CONNECTION_ID), links: new Set() };
      this.peers.set(key, peer);
    }
    peer.links.add(link);
    this.replica.peerUp({ key, vnets: hello.directory.vnets, scope: link.scope });
    this.changed();
  }

  private peerDown(link: PeerLink): void {
    for (const peer of this.peers.values()) {
      if (!peer.links.delete(link) || peer.links.size > 0) continue;
      this.peers.delete(peer.key);
      this.replica.peerDown(peer.key);
      this.changed();
    }
  }

  private connectionClosed(addr: Address): void {
    const prefix = `${addr.toString()}/`;
    for (const key of [...this.bound.keys()]) {
      if (!key.startsWith(prefix)) continue;
      this.bound.delete(key);
      this.replica.unregister(key);
      this.changed();
    }
  }

  private async handle(msg: Msg): Promise<void | readonly HandlerInstruction[]> {
    switch (msg.subject) {
      case VLM.REGISTER_ENTRY: {
        const entry = Entry.fromJSON(msg.contents);
        const ttlMs = (msg.contents as { ttlMs?: unknown } | null)?.ttlMs;
        if (ttlMs !== undefined && (typeof ttlMs !== "number" || !Number.isInteger(ttlMs) || ttlMs <= 0)) {
          throw new InvalidArgumentError("REGISTER_ENTRY ttlMs must be a positive integer");
        }
        const onThisRouter = entry.addr.machineId === this.router.machineId && entry.addr.routerId === this.router.routerId;
        if (ttlMs === undefined && onThisRouter) this.bound.set(entry.key, entry);
        else this.bound.delete(entry.key);
        this.replica.register(entry, ttlMs ?? this.entryTtlMs);
        this.changed();
        return void (await this.conn.send(msg.reply(null)));
      }
      case VLM.UNREGISTER_ENTRY: {
        const c = (msg.contents ?? {}) as { addr?: unknown; service?: unknown };
        const addr = Address.fromJSON(c.addr);
        const key = `${addr.toString()}/${String(c.service)}`;
        this.bound.delete(key);
        const removed = this.replica.unregister(key);
        if (removed) this.changed();
        return void (await this.conn.send(msg.reply({ removed })));
      }
      case VLM.GET_ENTRIES: {
        const query = (msg.contents ?? {}) as EntryQuery;
        if (typeof query.service !== "string") throw new InvalidArgumentError("GET_ENTRIES needs a service");
        const found = this.query(query).map((e) => e.toJSON());
        return void (await this.conn.send(msg.reply(found)));
      }
      case VLM.DIRECTORY_SYNC: {
        const from = msg.from;
        const peer = from ? this.peers.get(`${from.machineId}:${from.routerId}`) : undefined;
        if (!peer) {
          if (channels.messagingMalformed.hasSubscribers) {
            channels.messagingMalformed.publish({ router: this.conn.addr.toString(), error: new InvalidArgumentError(`DIRECTORY_SYNC from ${from?.toString() ?? "nobody"}, not a linked directory`) });
          }
          return;
        }
        const { rejected } = this.replica.receive(peer.key, msg.contents);
        if (rejected > 0 && channels.messagingMalformed.hasSubscribers) {
          channels.messagingMalformed.publish({ router: this.conn.addr.toString(), error: new InvalidArgumentError(`${rejected} bad items in DIRECTORY_SYNC from ${peer.key}`) });
        }
        this.changed();
        return;
      }
      default:
        return [VLM.IGNORE_UNHANDLED_REPLIES, VLM.HANDLE_PING, VLM.HANDLE_DOES_NOT_UNDERSTAND];
    }
  }
}

function positive(value: number, name: string): number {
  if (!Number.isInteger(value) || value <= 0) throw new InvalidArgumentError(`${name} must be a positive integer, got ${String(value)}`);
  return value;
}

/** Registers `entry` with the directory of `conn`'s router; rejects with the request's coded error. */
export async function registerEntry(conn: Connection, entry: Entry, timeoutMs: number, ttlMs?: number): Promise<void> {
  const contents = ttlMs === undefined ? entry.toJSON() : { ...entry.toJSON(), ttlMs };
  await conn.send(new Msg(conn.directoryAddr, VLM.REGISTER_ENTRY, contents), timeoutMs);
}

/** Asks the directory of `conn`'s router for entries answering `query`. */
export async function getEntries(conn: Connection, query: EntryQuery, timeoutMs: number): Promise<Entry[]> {
  const reply = await conn.send<unknown[]>(new Msg(conn.directoryAddr, VLM.GET_ENTRIES, query), timeoutMs);
  return (reply.contents ?? []).map((e) => Entry.fromJSON(e));
}
