/**
 * Links between routers in different processes of one machine (MACHINE
 * mode), over the ZeroMQ core's ipc transport.
 *
 * Every router binds a Pull at an endpoint derived from its address, so no
 * lookup is needed to reach a router: its address says where it listens.
 *
 * ```
 *   router 1:A ─ Push ──ipc──▶ Pull ─ router 1:B        ipc://@switchboard-vlm-<machine>-<router>
 *   router 1:A ◀──ipc── Push ─ router 1:B                (replies travel on the other router's link)
 * ```
 *
 * A router that cannot be reached (nothing listens there: it never existed
 * or has gone) is reported at once: messages waiting for the link are
 * bounced with MSG_NOT_DELIVERED, and the link is dropped, so the next
 * message dials again.
 *
 * This is the hot path between processes, so it avoids work per message:
 * a message is encoded straight into the link's outgoing batch (no buffer
 * or promise of its own), arriving frames are decoded as the link hands
 * them over (no promise or queue per message), and the link to the last
 * destination is remembered (no key string per message).
 */
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InvalidArgumentError } from "../errors.js";
import { Pull, Push } from "../socket/index.js";
import type { Pipe } from "../socket/pipe.js";
import { decodeMsg, prepareMsg, writePreparedMsg } from "./codec.js";
import type { Msg } from "./msg.js";

/** The ipc endpoint where router (machineId, routerId) listens. */
export function routerEndpoint(machineId: number, routerId: number): string {
  const name = `switchboard-vlm-${machineId}-${routerId}`;
  // Linux's abstract namespace leaves no file behind; elsewhere, a socket file.
  return process.platform === "linux" ? `ipc://@${name}` : `ipc://${join(tmpdir(), `${name}.sock`)}`;
}

export interface MachineLinkHost {
  /** A message arrived for this router. */
  arrived(msg: Msg): void;
  /** A message could not be delivered to its router. */
  undeliverable(msg: Msg, reason: string): void;
  /** A malformed message arrived (reported, then dropped). */
  malformed(error: unknown): void;
}

/**
 * A Pull that hands each arriving message to a callback at once, instead of
 * queueing it for receive(): the router has its own queue, so a second one
 * (and a promise per message to empty it) would only cost time.
 */
class Inbox extends Pull {
  constructor(private readonly onMessage: (frames: Buffer[]) => void) {
    super();
  }

  protected override xMessage(_pipe: Pipe, frames: Buffer[]): void {
    this.onMessage(frames);
  }
}

interface Outbound {
  readonly push: Push;
  /** Frames (and their messages, to bounce) waiting for the first handshake; undefined once linked. */
  waiting: Array<{ msg: Msg; frame: Buffer }> | undefined;
  /** Set when the link is dropped: a cached reference to it must be looked up again. */
  dropped: boolean;
}

export class MachineLinks {
  private readonly inbox: Inbox;
  private readonly links = new Map<string, Outbound>();
  private closed = false;
  /** The link send() used last, and the router it reaches. */
  private last: Outbound | undefined;
  private lastMachineId = -1;
  private lastRouterId = -1;
  /** Resolves once this router listens (rejects if its endpoint is taken). */
  readonly listening: Promise<void>;

  constructor(
    machineId: number,
    routerId: number,
    private readonly host: MachineLinkHost,
  ) {
    this.inbox = new Inbox((frames) => this.receive(frames));
    this.listening = this.inbox.bind(routerEndpoint(machineId, routerId));
  }

  /** Sends a message to another router of this machine (the router its `to` names). */
  send(msg: Msg): void {
    const to = msg.to;
    const last = this.last;
    if (last !== undefined && !last.dropped && to.routerId === this.lastRouterId && to.machineId === this.lastMachineId) {
      this.write(last, msg);
      return;
    }
    const key = `${to.machineId}:${to.routerId}`;
    this.sendTo(key, routerEndpoint(to.machineId, to.routerId), msg);
    this.last = this.links.get(key);
    this.lastMachineId = to.machineId;
    this.lastRouterId = to.routerId;
  }

  /**
   * Sends a message to whatever listens at an ipc `endpoint` (another
   * router, a machine's gateway...). Links are kept by `key`: one Push per
   * key, dialed on first use.
   */
  sendTo(key: string, endpoint: string, msg: Msg): void {
    if (this.closed) return;
    let link = this.links.get(key);
    if (!link) link = this.open(key, endpoint);
    this.write(link, msg);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.last = undefined;
    this.inbox.close();
    for (const link of this.links.values()) {
      link.dropped = true;
      link.push.close();
    }
    this.links.clear();
  }

  private write(link: Outbound, msg: Msg): void {
    let size: number;
    try {
      size = prepareMsg(msg);
    } catch (error) {
      this.host.undeliverable(msg, `cannot encode the message: ${(error as Error).message}`);
      return;
    }
    // The usual case: the envelope is written straight into the link's
    // outgoing batch. Otherwise (not linked yet, or messages queued) it gets
    // a buffer of its own and waits its turn.
    if (link.waiting === undefined && link.push.sendFrameWith(size, writePreparedMsg)) return;
    const frame = Buffer.allocUnsafe(size);
    writePreparedMsg(frame, 0);
    if (link.waiting) link.waiting.push({ msg, frame });
    else void link.push.send(frame);
  }

  private open(key: string, endpoint: string): Outbound {
    // A failed dial is reported (connect:retry) and the link dropped before
    // the long retry interval runs out: a router that is not there is
    // reported, not waited for.
    const push = new Push({ reconnectInterval: 60_000, linger: 0 });
    const link: Outbound = { push, waiting: [], dropped: false };
    this.links.set(key, link);
    const drop = (reason: string): void => {
      if (this.links.get(key) !== link) return;
      this.links.delete(key);
      link.dropped = true;
      push.close();
      const waiting = link.waiting ?? [];
      link.waiting = undefined;
      for (const { msg } of waiting) this.host.undeliverable(msg, reason);
    };
    push.events.on("handshake", () => {
      const waiting = link.waiting ?? [];
      link.waiting = undefined;
      for (const { frame } of waiting) void push.send(frame);
    });
    push.events.on("connect:retry", () => drop(`${key} (${endpoint}) is not running`));
    push.events.on("disconnect", () => drop(`${key} (${endpoint}) went away`));
    push.events.on("handshake:error:protocol", (event) => drop(`${key} (${endpoint}) refused the link: ${event.error.message}`));
    push.connect(endpoint);
    return link;
  }

  private receive(frames: Buffer[]): void {
    let msg: Msg;
    try {
      if (frames.length !== 1) throw new InvalidArgumentError(`a Msg is one frame, got ${frames.length}`);
      msg = decodeMsg(frames[0]!);
    } catch (error) {
      this.host.malformed(error);
      return;
    }
    this.host.arrived(msg);
  }
}
