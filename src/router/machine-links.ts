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
 */
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Pull, Push } from "../socket/index.js";
import { decodeMsg, encodeMsg } from "./codec.js";
import type { Msg } from "./msg.js";

/** A Msg as one frame: the encoder returns fresh bytes, so they are wrapped, not copied. */
function frame(msg: Msg): Buffer {
  const bytes = encodeMsg(msg);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

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

interface Outbound {
  push: Push;
  /** Messages waiting for the first handshake; undefined once linked. */
  waiting: Msg[] | undefined;
}

export class MachineLinks {
  private readonly inbox = new Pull();
  private readonly links = new Map<string, Outbound>();
  private closed = false;
  /** Resolves once this router listens (rejects if its endpoint is taken). */
  readonly listening: Promise<void>;

  constructor(
    private readonly machineId: number,
    routerId: number,
    private readonly host: MachineLinkHost,
  ) {
    this.listening = this.inbox.bind(routerEndpoint(machineId, routerId)).then(() => {
      void this.receive();
    });
  }

  /** Sends a message to another router of this machine. */
  send(msg: Msg): void {
    if (this.closed) return;
    const key = `${msg.to.machineId}:${msg.to.routerId}`;
    let link = this.links.get(key);
    if (!link) link = this.open(key, msg.to.routerId);
    if (link.waiting) link.waiting.push(msg);
    else void link.push.send(frame(msg));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.inbox.close();
    for (const link of this.links.values()) link.push.close();
    this.links.clear();
  }

  private open(key: string, routerId: number): Outbound {
    // A failed dial is reported (connect:retry) and the link dropped before
    // the long retry interval runs out: a router that is not there is
    // reported, not waited for.
    const push = new Push({ reconnectInterval: 60_000, linger: 0 });
    const link: Outbound = { push, waiting: [] };
    this.links.set(key, link);
    const drop = (reason: string): void => {
      if (this.links.get(key) !== link) return;
      this.links.delete(key);
      push.close();
      for (const msg of link.waiting ?? []) this.host.undeliverable(msg, reason);
      link.waiting = undefined;
    };
    push.events.on("handshake", () => {
      const waiting = link.waiting ?? [];
      link.waiting = undefined;
      for (const msg of waiting) void push.send(frame(msg));
    });
    push.events.on("connect:retry", () => drop(`router ${key} is not running`));
    push.events.on("disconnect", () => drop(`router ${key} went away`));
    push.events.on("handshake:error:protocol", (event) => drop(`router ${key} refused the link: ${event.error.message}`));
    push.connect(routerEndpoint(this.machineId, routerId));
    return link;
  }

  private async receive(): Promise<void> {
    for await (const [frame] of this.inbox) {
      if (!frame) continue;
      let msg: Msg;
      try {
        msg = decodeMsg(frame);
      } catch (error) {
        this.host.malformed(error);
        continue;
      }
      this.host.arrived(msg);
    }
  }
}
