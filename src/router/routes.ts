/**
 * Which peer link leads to a router. A link's peer is reachable exactly
 * (its "machine:router"); a network link's peer also leads to every other
 * router of its machine (that peer forwards over its machine's ipc mesh); a
 * link this router dialed is an uplink: where messages for machines it has
 * no route to are sent, for the hub to route further.
 */
import type { PeerLink } from "./peer-link.js";

export class Routes {
  private readonly exact = new Map<string, PeerLink>();
  private readonly machines = new Map<number, PeerLink[]>();
  private readonly up = new Set<PeerLink>();

  /** A link's peer said hello (again: its old routes are replaced). */
  add(link: PeerLink): void {
    this.remove(link);
    const peer = link.peer;
    if (!peer) return;
    this.up.add(link);
    this.exact.set(`${peer.machineId}:${peer.routerId}`, link);
    if (link.scope === "network") {
      const list = this.machines.get(peer.machineId);
      if (list) list.push(link);
      else this.machines.set(peer.machineId, [link]);
    }
  }

  remove(link: PeerLink): void {
    if (!this.up.delete(link)) return;
    for (const [key, l] of this.exact) if (l === link) this.exact.delete(key);
    for (const [machine, list] of this.machines) {
      const rest = list.filter((l) => l !== link);
      if (rest.length === 0) this.machines.delete(machine);
      else this.machines.set(machine, rest);
    }
  }

  /** The link straight to router (machineId, routerId), if one is up. */
  toRouter(machineId: number, routerId: number): PeerLink | undefined {
    return this.exact.get(`${machineId}:${routerId}`);
  }

  /** A network link to some router of `machineId` other than `except`. */
  toMachine(machineId: number, except?: PeerLink): PeerLink | undefined {
    const list = this.machines.get(machineId);
    if (!list) return undefined;
    for (const link of list) if (link !== except) return link;
    return undefined;
  }

  /** A dialed link of `scope` other than `except`: where unroutable messages go next. */
  uplink(scope: PeerLink["scope"], except?: PeerLink): PeerLink | undefined {
    for (const link of this.up) if (link.dialed && link.scope === scope && link !== except) return link;
    return undefined;
  }

  /** Whether any network link is up. */
  get hasNetwork(): boolean {
    return this.machines.size > 0;
  }

  get links(): IterableIterator<PeerLink> {
    return this.up.values();
  }
}
