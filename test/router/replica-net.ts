// A simulated network of directory replicas for the replication tests:
// links carry drained updates in order (through a JSON round trip, so only
// plain data crosses), and the test decides when they are delivered,
// dropped, or held while time passes.
import { FakeClock } from "../helpers/fake-clock.js";
import { Address } from "../../src/router/address.js";
import { Entry } from "../../src/router/entry.js";
import { Replica, type ReplicaOptions, type ReplicaUpdate } from "../../src/router/replica.js";

export type Scope = "machine" | "network";

export interface Delivery {
  from: string;
  to: string;
  update: ReplicaUpdate;
}

export class Net {
  readonly clock = new FakeClock(1_000);
  readonly nodes = new Map<string, Replica>();
  private readonly served = new Map<string, string[] | null>();
  private readonly scopes = new Map<string, Scope>();
  private readonly queues = new Map<string, ReplicaUpdate[]>();
  /** Every update delivered, in order. */
  readonly delivered: Delivery[] = [];
  /** Directories whose updates are lost from now on (crashed without their links noticing). */
  readonly muted = new Set<string>();
  /** Totals of what receivers reported. */
  readonly totals = { accepted: 0, rejected: 0, refused: 0 };

  constructor(private readonly options: Omit<ReplicaOptions, "clock"> = {}) {}

  add(name: string, vnets: string[] | null = null, options: Omit<ReplicaOptions, "clock"> = {}): Replica {
    const replica = new Replica(name, { ...this.options, ...options, clock: this.clock });
    this.nodes.set(name, replica);
    this.served.set(name, vnets);
    return replica;
  }

  node(name: string): Replica {
    const replica = this.nodes.get(name);
    if (!replica) throw new Error(`no node ${name}`);
    return replica;
  }

  /** Links two directories (both sides call peerUp). */
  link(a: string, b: string, scope: Scope = "machine"): void {
    this.scopes.set(linkKey(a, b), scope);
    this.node(a).peerUp({ key: b, vnets: this.served.get(b) ?? null, scope });
    this.node(b).peerUp({ key: a, vnets: this.served.get(a) ?? null, scope });
  }

  /** Cuts a link: both sides call peerDown, and updates in flight on it are lost. */
  unlink(a: string, b: string): void {
    if (!this.scopes.delete(linkKey(a, b))) return;
    this.node(a).peerDown(b);
    this.node(b).peerDown(a);
    this.queues.delete(`${a}>${b}`);
    this.queues.delete(`${b}>${a}`);
  }

  linked(a: string, b: string): boolean {
    return this.scopes.has(linkKey(a, b));
  }

  /** Replaces a directory by a fresh replica of the same name (its state is lost). */
  restart(name: string): Replica {
    const replica = this.add(name, this.served.get(name) ?? null);
    for (const [key] of this.queues) if (key.endsWith(`>${name}`) || key.startsWith(`${name}>`)) this.queues.delete(key);
    return replica;
  }

  /** Changes the vnets a directory serves, telling its linked peers. */
  serve(name: string, vnets: string[] | null): void {
    this.served.set(name, vnets);
    for (const [key, scope] of this.scopes) {
      const [a, b] = key.split("|") as [string, string];
      if (a === name) this.node(b).peerUp({ key: a, vnets, scope });
      if (b === name) this.node(a).peerUp({ key: b, vnets, scope });
    }
  }

  /** Drains every replica onto its links. */
  pump(): void {
    for (const [name, replica] of this.nodes) {
      for (const { peer, update } of replica.drain()) {
        if (!this.linked(name, peer)) throw new Error(`${name} sent to ${peer}, which it is not linked to`);
        if (this.muted.has(name)) continue;
        const key = `${name}>${peer}`;
        const queue = this.queues.get(key) ?? [];
        queue.push(JSON.parse(JSON.stringify(update)) as ReplicaUpdate);
        this.queues.set(key, queue);
      }
    }
  }

  /** Updates waiting on links. */
  get inFlight(): number {
    let n = 0;
    for (const queue of this.queues.values()) n += queue.length;
    return n;
  }

  /** Delivers the oldest update waiting from `from` to `to`; false if none. */
  deliverOne(from: string, to: string): boolean {
    const update = this.queues.get(`${from}>${to}`)?.shift();
    if (update === undefined) return false;
    this.delivered.push({ from, to, update });
    const result = this.node(to).receive(from, update);
    this.totals.accepted += result.accepted;
    this.totals.rejected += result.rejected;
    this.totals.refused += result.refused;
    return true;
  }

  /** Loses the oldest update waiting from `from` to `to`. */
  dropOne(from: string, to: string): boolean {
    return this.queues.get(`${from}>${to}`)?.shift() !== undefined;
  }

  /** Delivers everything waiting, in link order. */
  deliverAll(): number {
    let n = 0;
    for (const key of [...this.queues.keys()]) {
      const [from, to] = key.split(">") as [string, string];
      while (this.deliverOne(from, to)) n++;
    }
    return n;
  }

  /** Waiting links, as [from, to]. */
  busyLinks(): [string, string][] {
    return [...this.queues].filter(([, q]) => q.length > 0).map(([key]) => key.split(">") as [string, string]);
  }

  /** Pumps and delivers until nothing moves; throws if it keeps moving (a feedback loop). */
  settle(maxRounds = 100): number {
    let moved = 0;
    for (let round = 0; round < maxRounds; round++) {
      this.pump();
      const n = this.deliverAll();
      if (n === 0) return moved;
      moved += n;
    }
    throw new Error(`not quiescent after ${maxRounds} rounds`);
  }

  /** Expires on every node. */
  expireAll(): void {
    for (const replica of this.nodes.values()) replica.expire();
  }

  antiEntropyAll(): void {
    for (const replica of this.nodes.values()) replica.antiEntropy();
  }

  /** The keys of the live entries `name` holds, sorted. */
  view(name: string): string[] {
    return this.node(name)
      .entries()
      .map((e) => e.key)
      .sort();
  }
}

function linkKey(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}

/** An entry of the agent `id` on router `router`, for service `service`. */
export function entry(router: number, id: number, service = "svc", vnets: string[] | null = null, params: Record<string, unknown> | null = null): Entry {
  return new Entry(new Address(1, router, 16 + id), service, params, vnets);
}
