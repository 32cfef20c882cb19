/**
 * A PeerLink joins this router to one other router, over whatever carries
 * it: a ZeroMQ link to a hub endpoint (ipc or tcp, hub-links.ts) or a
 * MessagePort to another thread (port-link.ts). Routers in other processes
 * of the machine that have no such link are reached through the machine's
 * ipc mesh (machine-links.ts) instead.
 *
 * Each side opens a link with LINK_HELLO (a Msg from its directory address,
 * docs/protocols/router.md), which names the router at the other end and
 * says whether a Directory lives there and which vnets it serves. Until the
 * peer's hello has arrived a link carries nothing else.
 */
import { InvalidArgumentError } from "../errors.js";
import { Address, DIRECTORY_CONNECTION_ID } from "./address.js";
import { decodeMsg } from "./codec.js";
import { Msg } from "./msg.js";
import { VLM } from "./vlm.js";

/**
 * How far a link reaches: "machine" links join routers of one machine (ipc
 * hubs, worker threads); "network" links join machines (tcp). Entries of the
 * local vnet are never replicated over a network link.
 */
export type LinkScope = "machine" | "network";

/** What a router says of itself in LINK_HELLO. */
export interface Hello {
  readonly machineId: number;
  readonly routerId: number;
  /** The vnets of the directory on that router, or null when it has none. */
  readonly directory: { readonly vnets: readonly string[] } | null;
}

export interface PeerLink {
  /** For diagnostics: the endpoint, and which side opened it. */
  readonly name: string;
  readonly scope: LinkScope;
  /** True for a link this router dialed (a hub it uses); false for one it accepted. */
  readonly dialed: boolean;
  /** The peer's hello; undefined until it arrives (and again while a dialed link is down). */
  readonly peer: Hello | undefined;
  /** Resolves when the peer's first hello arrives: from then on the link carries messages. */
  readonly up: Promise<void>;
  /**
   * Sends a message to the peer. Returns false when the link is down (the
   * message was not taken): the router then tries another route or bounces it.
   */
  send(msg: Msg): boolean;
  /** Sends this router's hello again (its directory changed). */
  sendHello(): void;
  close(): void;
}

/** What a link needs from its router. */
export interface PeerLinkHost {
  /** This router's hello, sent first on every link (and again after reconnecting). */
  hello(): Hello;
  /** The peer's hello arrived: the link can carry messages (called again when the peer re-sends it). */
  linkUp(link: PeerLink): void;
  /** The peer (whose hello was `peer`) has gone: disconnected or closed. */
  linkDown(link: PeerLink, peer: Hello): void;
  /** A message arrived over the link. */
  arrived(msg: Msg, link: PeerLink): void;
  /** A message the link took could not be sent after all (the peer went away first). */
  undeliverable(msg: Msg, reason: string): void;
  /** Something that is not a message arrived; the link reports it and drops it. */
  malformed(error: unknown, link: PeerLink): void;
}

/** The hello in a LINK_HELLO message, or why it is not one. */
export function parseHello(msg: Msg): Hello | string {
  if (!msg.from) return "LINK_HELLO without a sender";
  const contents = msg.contents as { directory?: unknown } | undefined;
  const d = contents?.directory;
  let directory: Hello["directory"] = null;
  if (d !== undefined && d !== null) {
    const vnets = (d as { vnets?: unknown }).vnets;
    if (!Array.isArray(vnets) || vnets.some((v) => typeof v !== "string")) return "LINK_HELLO directory.vnets must be a list of strings";
    directory = { vnets: vnets as string[] };
  }
  return { machineId: msg.from.machineId, routerId: msg.from.routerId, directory };
}

/** The LINK_HELLO message carrying `hello`. */
export function helloMsg(hello: Hello): Msg {
  return new Msg(new Address(0, 0, 0), VLM.LINK_HELLO, { directory: hello.directory ? { vnets: [...hello.directory.vnets] } : null }, {
    from: new Address(hello.machineId, hello.routerId, DIRECTORY_CONNECTION_ID),
  });
}

/**
 * What every kind of link does alike: decode what arrives, hold the peer's
 * hello, and tell the router when the link comes up or goes down.
 */
export abstract class LinkBase implements PeerLink {
  abstract readonly name: string;
  abstract readonly scope: LinkScope;
  abstract readonly dialed: boolean;
  peer: Hello | undefined;
  readonly up: Promise<void>;
  private markUp!: () => void;

  constructor(protected readonly host: PeerLinkHost) {
    this.up = new Promise((resolve) => (this.markUp = resolve));
  }

  abstract send(msg: Msg): boolean;
  abstract sendHello(): void;
  abstract close(): void;

  /** One encoded Msg from the peer: a hello (re)names the peer; anything else needs a peer that said hello. */
  protected receiveBytes(bytes: Uint8Array): void {
    let msg: Msg;
    try {
      msg = decodeMsg(bytes);
    } catch (error) {
      return this.host.malformed(error, this);
    }
    if (msg.subject === VLM.LINK_HELLO && msg.to.machineId === 0) {
      const hello = parseHello(msg);
      if (typeof hello === "string") return this.host.malformed(new InvalidArgumentError(hello), this);
      return this.greeted(hello);
    }
    if (!this.peer) return this.host.malformed(new InvalidArgumentError(`${msg.subject} before LINK_HELLO`), this);
    this.host.arrived(msg, this);
  }

  /** The peer said hello (again). */
  protected greeted(hello: Hello): void {
    this.peer = hello;
    this.markUp();
    this.host.linkUp(this);
  }

  /** The peer is gone (until a dialed link's next hello). */
  protected lost(): void {
    const peer = this.peer;
    if (!peer) return;
    this.peer = undefined;
    this.host.linkDown(this, peer);
  }
}
