/**
 * The directory replication engine: the entries one Directory holds, its
 * own (registered by its agents) and those learned from peer directories,
 * and the updates to send to those peers. Pure logic: no I/O and no timers;
 * time comes from the injected clock's now(), and the owner calls expire(),
 * antiEntropy() and drain() (every heartbeat or so) and passes each
 * Outgoing update to the named peer's receive().
 *
 * Algorithm (a path-vector protocol with soft state):
 *
 * - Keys and versions. An entry's key is Entry.key ("addr/service"). The
 *   directory an entry was registered with is its origin; the origin gives
 *   it a sequence number, bumped when the content changes or the entry is
 *   unregistered (one counter per origin, so a re-registration after an
 *   unregistration is newer too). Versions compare by seq, then by origin
 *   name; the newer wins everywhere. A directory never lets a learned
 *   version replace an entry it owns.
 * - Paths. An offered entry carries its path: the directories it crossed,
 *   origin first, sender last. A directory drops any offer whose path
 *   contains itself (it would be a loop; the sender's route, if any, is
 *   withdrawn), and for every learned entry keeps one route per peer it
 *   heard the entry from (the path that peer sent). The best route is the
 *   shortest, ties broken by the smaller peer key; the directory offers the
 *   entry, with the best path plus itself, to every peer not on that path
 *   (split horizon: never back towards the origin). Keeping the paths,
 *   rather than the set of peers alone, is what lets a withdrawal clear a
 *   cycle at once: two directories of a cycle can never hold each other up
 *   after the origin's side is gone, since each one's path names the other.
 *   Peer keys must therefore be the peers' own Replica names (`self`).
 * - Withdrawal ("I no longer have it"). When a directory stops offering an
 *   entry to a peer that holds it (no route left, the best path now goes
 *   through that peer, the entry expired, the peer's vnets changed), it
 *   tells that peer; the peer drops its route through the sender and, if no
 *   route is left, drops the entry and tells its own peers, and so on.
 *   peerDown(peer) drops every route through that peer the same way.
 * - Deletion. unregister() is a versioned deletion: a tombstone (key,
 *   origin, seq) flooded to every peer whose vnets could hold the entry,
 *   each directory passing it on once. It removes the entry wherever it is
 *   not newer, whatever its routes, and is kept for `tombstoneMs` (default:
 *   maxTtlMs, the longest a stale copy can live) and at most
 *   `maxTombstones`, so a stale copy still travelling around a cycle is
 *   refused instead of coming back.
 * - Soft state. Each entry has an expiry: an own entry's is set by its
 *   registration (register() again to renew it); a learned one's comes from
 *   offers, which carry the time left at the sender (ttlMs, capped at
 *   maxTtlMs). The receiver keeps max(expiry, now + ttlMs), taken only from
 *   offers of a newer version or through its best route. Relays never extend
 *   an entry by themselves, and because best routes lead back to the origin
 *   without cycles, no relay's time can feed back into its own: once the
 *   origin stops renewing, the entry expires everywhere within its TTL
 *   (plus transit time along the path). Expired entries are withdrawn.
 * - Scope and vnets. An entry is offered to a peer only if its vnets are
 *   null (every vnet) or share a vnet with the peer's (a peer's null = it
 *   serves every vnet). The local vnet (VLM.LOCAL_VNET) never crosses a
 *   "network" peer: an entry whose vnets are only "local" is not offered to
 *   it, and one in "local" and others is offered without "local".
 * - Batching and repair. Changes are marked per peer and handed out by
 *   drain(), one update per peer. peerUp() queues a full snapshot for that
 *   peer and antiEntropy() one for every peer; a snapshot ("full") lists
 *   everything offered to that peer plus live tombstones, and the receiver
 *   drops its routes through the sender for any key not listed, which
 *   repairs lost offers, withdrawals and deletions alike.
 * - Restarts. A restarted directory (same name) starts its counter again.
 *   A peer that holds a newer copy of one of its entries (or a deletion),
 *   or other content under the same version, on getting it from the origin
 *   itself, sends its copy back to the origin (past split horizon); the
 *   origin then moves its counter past it, or, if it no longer has the
 *   entry, deletes it with a newer version. Names must therefore be unique:
 *   two live replicas of one name would keep outdoing each other.
 * - Bounds. receive() never throws: malformed items are dropped and counted
 *   (`rejected`), new learned entries beyond maxEntries are refused
 *   (`refused`); own entries are always accepted.
 *
 * The wire form of an update is described in replica-wire.ts.
 */
import type { Clock } from "../connection/clock.js";
import { InvalidArgumentError } from "../errors.js";
import { Entry, matches, type EntryQuery } from "./entry.js";
import { checkPeer, decodeUpdate, entryFor, sameContent, sameEntry, visible, wireDeletion } from "./replica-wire.js";
import type { Advert, Deletion, ReplicaItem, ReplicaPeer, ReplicaUpdate, WireLimits } from "./replica-wire.js";

export type { ReplicaUpdate, ReplicaItem, ReplicaDeletion, ReplicaPeer } from "./replica-wire.js";

/** An update to send to one peer. */
export interface Outgoing {
  peer: string;
  update: ReplicaUpdate;
}

export interface ReplicaOptions {
  clock: Pick<Clock, "now">;
  /** TTLs (own and received) are capped at this. Default 300 000 ms. */
  maxTtlMs?: number;
  /** Entries held; new learned entries beyond it are refused. Default 100 000. */
  maxEntries?: number;
  /** How long a deletion is remembered. Default maxTtlMs. */
  tombstoneMs?: number;
  /** Deletions remembered at most (the oldest go first). Default 10 000. */
  maxTombstones?: number;
  /** Offers with longer paths are refused. Default 32. */
  maxPathLength?: number;
}

export interface ReceiveResult {
  /** Items applied (including ones that changed nothing). */
  accepted: number;
  /** Items dropped as malformed or out of bounds. */
  rejected: number;
  /** New entries refused because maxEntries were held. */
  refused: number;
}

interface Version {
  readonly origin: string;
  readonly seq: number;
}

interface Rec {
  entry: Entry;
  origin: string;
  seq: number;
  expiry: number;
  readonly own: boolean;
  /** Peer key -> the path that peer sent (origin first, that peer last). */
  readonly routes: Map<string, readonly string[]>;
}

interface Tomb extends Version {
  readonly vnets: readonly string[] | null;
  readonly until: number;
}

interface PeerState {
  peer: ReplicaPeer;
  /** A snapshot is due. */
  full: boolean;
  /** Keys to re-evaluate for this peer (offer, withdraw or nothing). */
  readonly dirty: Set<string>;
  /** Tombstones to send. */
  readonly deletes: Set<string>;
  /** Keys to offer even though the peer is on the path (to an origin holding an older version). */
  readonly force: Set<string>;
  /** Keys this peer holds from us, so it must hear when we stop offering them. */
  readonly holds: Set<string>;
}

export class Replica {
  private readonly records = new Map<string, Rec>();
  private readonly tombs = new Map<string, Tomb>();
  private readonly peers = new Map<string, PeerState>();
  private counter = 0;
  private readonly clock: Pick<Clock, "now">;
  private readonly maxEntries: number;
  private readonly tombstoneMs: number;
  private readonly maxTombstones: number;
  private readonly limits: WireLimits;

  constructor(readonly self: string, options: ReplicaOptions) {
    if (typeof self !== "string" || self.length === 0) throw new InvalidArgumentError("a replica needs a non-empty name");
    this.clock = options.clock;
    const maxTtlMs = positive(options.maxTtlMs, 300_000, "maxTtlMs");
    this.maxEntries = positive(options.maxEntries, 100_000, "maxEntries");
    this.tombstoneMs = positive(options.tombstoneMs, maxTtlMs, "tombstoneMs");
    this.maxTombstones = positive(options.maxTombstones, 10_000, "maxTombstones");
    const maxPathLength = positive(options.maxPathLength, 32, "maxPathLength");
    this.limits = { maxItems: this.maxEntries + this.maxTombstones, maxTtlMs, maxPathLength };
  }

  /** Entries held (own and learned), including expired ones expire() has not dropped yet. */
  get size(): number {
    return this.records.size;
  }

  /** Registers or renews an own entry, live for ttlMs (capped at maxTtlMs) from now. */
  register(entry: Entry, ttlMs: number): void {
    if (!(entry instanceof Entry)) throw new InvalidArgumentError("register needs an Entry");
    if (typeof ttlMs !== "number" || !(ttlMs > 0) || !Number.isFinite(ttlMs)) {
      throw new InvalidArgumentError(`ttlMs must be a positive finite number, got ${String(ttlMs)}`);
    }
    const key = entry.key;
    const expiry = this.clock.now() + Math.min(ttlMs, this.limits.maxTtlMs);
    const rec = this.records.get(key);
    if (rec?.own) {
      const changed = !sameEntry(rec.entry, entry);
      if (!changed && rec.expiry === expiry) return;
      if (changed) {
        rec.entry = entry;
        rec.seq = ++this.counter;
      }
      rec.expiry = expiry;
    } else {
      // Taking over a key: be newer than any copy or deletion seen for it.
      this.counter = Math.max(this.counter, rec?.seq ?? 0, this.tombs.get(key)?.seq ?? 0);
      this.records.set(key, { entry, origin: this.self, seq: ++this.counter, expiry, own: true, routes: new Map() });
      this.tombs.delete(key);
    }
    this.markAll(key);
  }

  /** Unregisters an own entry (a deletion sent everywhere). False if this directory does not own `key`. */
  unregister(key: string): boolean {
    const rec = this.records.get(key);
    if (!rec?.own) return false;
    this.records.delete(key);
    this.bury(key, { origin: this.self, seq: ++this.counter }, rec.entry.vnets, undefined);
    return true;
  }

  /** A peer directory is linked (or its vnets or scope changed): it gets a full snapshot. */
  peerUp(peer: ReplicaPeer): void {
    const copy = checkPeer(peer, this.self);
    const st = this.peers.get(copy.key);
    if (st) {
      st.peer = copy;
      st.full = true;
    } else {
      const sets = { dirty: new Set<string>(), deletes: new Set<string>(), force: new Set<string>(), holds: new Set<string>() };
      this.peers.set(copy.key, { peer: copy, full: true, ...sets });
    }
  }

  /** A peer directory is gone: every route through it is dropped. */
  peerDown(peerKey: string): void {
    if (!this.peers.delete(peerKey)) return;
    for (const key of [...this.records.keys()]) this.dropRoute(key, peerKey);
  }

  /** Applies an update from a linked peer; updates from unknown peers are ignored. Never throws. */
  receive(peerKey: string, update: unknown): ReceiveResult {
    const result: ReceiveResult = { accepted: 0, rejected: 0, refused: 0 };
    const st = this.peers.get(peerKey);
    if (!st) return result;
    const decoded = decodeUpdate(update, this.limits);
    result.rejected = decoded.rejected;
    const now = this.clock.now();
    // Each item is applied on its own, so one that trips an unforeseen case costs only itself.
    const apply = (fn: () => boolean): void => {
      try {
        if (fn()) result.accepted++;
        else result.refused++;
      } catch {
        result.rejected++;
      }
    };
    for (const d of decoded.deleted) apply(() => (this.applyDeletion(st, d, now), true));
    for (const key of decoded.withdrawn) apply(() => (this.dropRoute(key, peerKey), true));
    for (const key of decoded.unroutable) this.dropRoute(key, peerKey);
    for (const a of decoded.entries) apply(() => this.applyAdvert(st, a, now));
    if (decoded.full) {
      const listed = new Set(decoded.entries.map((a) => a.key));
      for (const [key, rec] of [...this.records]) if (rec.routes.has(peerKey) && !listed.has(key)) this.dropRoute(key, peerKey);
    }
    return result;
  }

  /** Drops entries past their expiry (own and learned) and old tombstones; returns how many entries went. */
  expire(): number {
    const now = this.clock.now();
    let dropped = 0;
    for (const [key, rec] of [...this.records]) {
      if (rec.expiry > now) continue;
      this.records.delete(key);
      this.markAll(key);
      dropped++;
    }
    for (const [key, tomb] of [...this.tombs]) if (tomb.until <= now) this.tombs.delete(key);
    return dropped;
  }

  /** Queues a full snapshot for every peer (call every few heartbeats to recover from lost updates). */
  antiEntropy(): void {
    for (const st of this.peers.values()) st.full = true;
  }

  /** The updates to send now, at most one per peer (none when nothing changed). */
  drain(): Outgoing[] {
    const now = this.clock.now();
    const out: Outgoing[] = [];
    for (const [peer, st] of this.peers) {
      const update = this.updateFor(st, now);
      if (update) out.push({ peer, update });
    }
    return out;
  }

  /** Live entries (not past expiry, even if expire() has not run) answering `q`. */
  query(q: EntryQuery): Entry[] {
    return this.entries().filter((e) => matches(e, q));
  }

  /** Every live entry held, own and learned. */
  entries(): Entry[] {
    const now = this.clock.now();
    const found: Entry[] = [];
    for (const rec of this.records.values()) if (rec.expiry > now) found.push(rec.entry);
    return found;
  }

  private applyAdvert(from: PeerState, a: Advert, now: number): boolean {
    const rec = this.records.get(a.key);
    if (a.origin === this.self) {
      this.ownCopyCameBack(from, a, rec, now);
      return true;
    }
    if (a.path.includes(this.self)) {
      this.dropRoute(a.key, from.peer.key);
      return true;
    }
    // Another origin's copy of a key we own does not replace ours (see the header).
    if (rec?.own) return true;
    const tomb = this.liveTomb(a.key, now);
    if (tomb && compare(tomb, a) >= 0) {
      // A stale copy: refuse it, and make sure the sender hears of the deletion.
      if (!from.full) from.deletes.add(a.key);
      return true;
    }
    if (!rec) {
      if (this.records.size >= this.maxEntries) return false;
      this.tombs.delete(a.key);
      const routes = new Map([[from.peer.key, a.path]]);
      this.records.set(a.key, { entry: a.entry, origin: a.origin, seq: a.seq, expiry: now + a.ttlMs, own: false, routes });
      this.markAll(a.key);
      return true;
    }
    const before = this.signature(rec);
    const order = compare(a, rec);
    rec.routes.set(from.peer.key, a.path);
    if (order > 0) {
      rec.entry = a.entry;
      rec.origin = a.origin;
      rec.seq = a.seq;
    }
    // Time is taken only from a newer version or the best route, never from
    // a side route that may carry this directory's own time back to it.
    if (order > 0 || (order === 0 && this.best(rec)?.[0] === from.peer.key)) rec.expiry = Math.max(rec.expiry, now + a.ttlMs);
    if (order < 0) {
      if (a.path.length === 1) from.force.add(a.key);
      else this.mark(from, a.key);
    } else if (order === 0 && a.path.length === 1 && !sameContent(rec.entry, a.entry)) {
      // The origin sends other content under the version we hold: it restarted
      // and counts again. Show it our copy so it moves past that version.
      from.force.add(a.key);
    }
    if (this.signature(rec) !== before) this.markAll(a.key);
    return true;
  }

  /** A peer offered one of our own entries: we restarted, or it holds a copy we no longer have. */
  private ownCopyCameBack(from: PeerState, a: Advert, rec: Rec | undefined, now: number): void {
    if (rec?.own) {
      if (a.seq >= rec.seq) this.outdo(rec, a.seq);
      else this.mark(from, a.key);
      return;
    }
    if (rec) return;
    const tomb = this.liveTomb(a.key, now);
    if (tomb && compare(tomb, a) >= 0) {
      if (!from.full) from.deletes.add(a.key);
      return;
    }
    this.counter = Math.max(this.counter, a.seq);
    this.bury(a.key, { origin: this.self, seq: ++this.counter }, a.entry.vnets, undefined);
  }

  private applyDeletion(from: PeerState, d: Deletion, now: number): void {
    const rec = this.records.get(d.key);
    if (rec?.own) {
      // Only our own deletions concern an entry we own; an older one means the sender should hear the entry again.
      if (d.origin === this.self && d.seq >= rec.seq) this.outdo(rec, d.seq);
      else if (d.origin === this.self) this.mark(from, d.key);
      return;
    }
    if (rec && compare(d, rec) < 0) {
      this.mark(from, d.key);
      return;
    }
    const tomb = this.liveTomb(d.key, now);
    if (!rec && tomb && compare(tomb, d) >= 0) return;
    if (rec) this.records.delete(d.key);
    this.bury(d.key, d, rec ? unionVnets(rec.entry.vnets, d.vnets) : d.vnets, from);
  }

  /** Our own entry's version must beat `seq`, which a previous incarnation of us used. */
  private outdo(rec: Rec, seq: number): void {
    this.counter = Math.max(this.counter, seq);
    rec.seq = ++this.counter;
    this.markAll(rec.entry.key);
  }

  /** Records a deletion and floods it to every peer but `from` that could hold the entry. */
  private bury(key: string, version: Version, vnets: readonly string[] | null, from: PeerState | undefined): void {
    this.tombs.delete(key);
    this.tombs.set(key, { origin: version.origin, seq: version.seq, vnets, until: this.clock.now() + this.tombstoneMs });
    for (const oldest of this.tombs.keys()) {
      if (this.tombs.size <= this.maxTombstones) break;
      this.tombs.delete(oldest);
    }
    for (const st of this.peers.values()) {
      if (st === from) {
        st.holds.delete(key);
        continue;
      }
      if (!st.full && visible(vnets, st.peer)) st.deletes.add(key);
      // A holder the deletion does not reach (its vnets changed) still hears a withdrawal.
      this.mark(st, key);
    }
  }

  private dropRoute(key: string, peerKey: string): void {
    const rec = this.records.get(key);
    if (!rec || rec.own || !rec.routes.has(peerKey)) return;
    const before = this.signature(rec);
    rec.routes.delete(peerKey);
    if (rec.routes.size === 0) {
      this.records.delete(key);
      this.markAll(key);
    } else if (this.signature(rec) !== before) this.markAll(key);
  }

  private updateFor(st: PeerState, now: number): ReplicaUpdate | undefined {
    const entries: ReplicaItem[] = [];
    const withdrawn: string[] = [];
    const deleted: NonNullable<ReplicaUpdate["deleted"]> = [];
    const offered = new Set<string>();
    const offer = (key: string, rec: Rec): void => {
      entries.push(this.item(rec, st.peer, now));
      offered.add(key);
    };
    const full = st.full;
    if (full) {
      st.holds.clear();
      for (const [key, tomb] of this.tombs) if (tomb.until > now && visible(tomb.vnets, st.peer)) deleted.push(wireDeletion(key, tomb));
      for (const [key, rec] of this.records) {
        if (!this.offerable(rec, st.peer, now)) continue;
        offer(key, rec);
        st.holds.add(key);
      }
    } else {
      for (const key of st.deletes) {
        const tomb = this.tombs.get(key);
        if (!tomb || tomb.until <= now) continue;
        deleted.push(wireDeletion(key, tomb));
        st.holds.delete(key);
      }
      for (const key of st.dirty) {
        const rec = this.records.get(key);
        if (rec && this.offerable(rec, st.peer, now)) {
          offer(key, rec);
          st.holds.add(key);
        } else if (st.holds.delete(key)) withdrawn.push(key);
      }
    }
    for (const key of st.force) {
      const rec = this.records.get(key);
      if (rec && !offered.has(key) && rec.expiry > now && visible(rec.entry.vnets, st.peer)) offer(key, rec);
    }
    st.full = false;
    st.dirty.clear();
    st.deletes.clear();
    st.force.clear();
    if (!full && entries.length + withdrawn.length + deleted.length === 0) return undefined;
    const update: ReplicaUpdate = {};
    if (full) update.full = true;
    if (deleted.length > 0) update.deleted = deleted;
    if (withdrawn.length > 0) update.withdrawn = withdrawn;
    if (entries.length > 0) update.entries = entries;
    return update;
  }

  private offerable(rec: Rec, peer: ReplicaPeer, now: number): boolean {
    return rec.expiry > now && visible(rec.entry.vnets, peer) && !this.path(rec).includes(peer.key);
  }

  private item(rec: Rec, peer: ReplicaPeer, now: number): ReplicaItem {
    return { entry: entryFor(rec.entry, peer), origin: rec.origin, seq: rec.seq, ttlMs: rec.expiry - now, path: [...this.path(rec)] };
  }

  /** The shortest route, ties broken by the smaller peer key. */
  private best(rec: Rec): [string, readonly string[]] | undefined {
    let best: [string, readonly string[]] | undefined;
    for (const [peer, path] of rec.routes) {
      if (!best || path.length < best[1].length || (path.length === best[1].length && peer < best[0])) best = [peer, path];
    }
    return best;
  }

  /** The path this directory offers the entry with. */
  private path(rec: Rec): readonly string[] {
    const best = rec.own ? undefined : this.best(rec);
    return best ? [...best[1], this.self] : [this.self];
  }

  /** What peers see of an entry: when it changes, every peer is re-evaluated. */
  private signature(rec: Rec): string {
    return `${rec.origin}\u0000${rec.seq}\u0000${rec.expiry}\u0000${this.path(rec).join("\u0000")}`;
  }

  private liveTomb(key: string, now: number): Tomb | undefined {
    const tomb = this.tombs.get(key);
    return tomb && tomb.until > now ? tomb : undefined;
  }

  private mark(st: PeerState, key: string): void {
    if (!st.full) st.dirty.add(key);
  }

  private markAll(key: string): void {
    for (const st of this.peers.values()) this.mark(st, key);
  }
}

function compare(a: Version, b: Version): number {
  if (a.seq !== b.seq) return a.seq - b.seq;
  return a.origin < b.origin ? -1 : a.origin > b.origin ? 1 : 0;
}

function unionVnets(a: readonly string[] | null, b: readonly string[] | null): readonly string[] | null {
  return a === null || b === null ? null : [...new Set([...a, ...b])];
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !(value > 0)) throw new InvalidArgumentError(`${name} must be a positive number, got ${String(value)}`);
  return value;
}
