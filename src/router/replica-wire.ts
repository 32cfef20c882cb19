/**
 * The wire form of directory replication updates (see the header of
 * replica.ts for the algorithm), its validation, and what of an entry may
 * cross a link to a given peer.
 *
 * An update is one map, plain data (MessagePack-able), every key optional:
 *
 * | key | type | |
 * |---|---|---|
 * | "full" | bool | true: a snapshot of everything the sender offers this peer; routes through the sender for keys not listed are dropped |
 * | "deleted" | [{ key, origin, seq, vnets }] | versioned deletions (tombstones); applied first |
 * | "withdrawn" | [str] | keys the sender no longer offers ("I no longer have it"); applied second |
 * | "entries" | [{ entry, origin, seq, ttlMs, path }] | entries offered; applied last |
 *
 * - `entry`: Entry.toJSON() form; `key` is "addr/service" as Entry.key;
 * - `origin`: the key of the directory the entry was registered with;
 *   `seq`: its version there (an integer from 1, newer wins);
 * - `ttlMs`: the time the entry has left at the sender (expiry - now);
 * - `path`: the directories the entry crossed, origin first, sender last;
 * - `vnets` of a deletion: the deleted entry's vnets (null = all), which
 *   decide which peers the deletion is passed on to.
 *
 * A snapshot is one update (its "full" covers exactly the entries listed).
 * Decoding never throws: items that are not of this shape, or out of
 * bounds, are dropped and counted; an offer whose path is longer than the
 * receiver allows also withdraws the sender's route for its key.
 */
import { InvalidArgumentError } from "../errors.js";
import { Entry } from "./entry.js";
import { VLM } from "./vlm.js";

/** A peer directory, as seen by this one. `key` is the peer's own Replica name. */
export interface ReplicaPeer {
  readonly key: string;
  /** The vnets the peer serves; null = every vnet. */
  readonly vnets: readonly string[] | null;
  readonly scope: "machine" | "network";
}

/** An offered entry, as sent. */
export interface ReplicaItem {
  entry: ReturnType<Entry["toJSON"]>;
  origin: string;
  seq: number;
  ttlMs: number;
  path: string[];
}

/** A versioned deletion, as sent. */
export interface ReplicaDeletion {
  key: string;
  origin: string;
  seq: number;
  vnets: string[] | null;
}

/** One replication update from a directory to a peer directory. */
export interface ReplicaUpdate {
  full?: boolean;
  deleted?: ReplicaDeletion[];
  withdrawn?: string[];
  entries?: ReplicaItem[];
}

/** A validated offered entry. */
export interface Advert {
  key: string;
  entry: Entry;
  origin: string;
  seq: number;
  ttlMs: number;
  path: readonly string[];
}

/** A validated deletion. */
export interface Deletion {
  key: string;
  origin: string;
  seq: number;
  vnets: readonly string[] | null;
}

export interface Decoded {
  full: boolean;
  deleted: Deletion[];
  withdrawn: string[];
  entries: Advert[];
  /** Keys of well-formed offers whose path is too long: the sender's route for them is gone. */
  unroutable: string[];
  /** Items dropped as malformed or out of bounds. */
  rejected: number;
}

export interface WireLimits {
  /** Items (deleted + withdrawn + entries) taken from one update; the rest are rejected. */
  maxItems: number;
  /** TTLs above this are lowered to it. */
  maxTtlMs: number;
  /** Longer paths are rejected (and withdraw the sender's route). */
  maxPathLength: number;
}

const MAX_NAME = 256;
const MAX_KEY = 1024;
const MAX_VNETS = 256;

export function decodeUpdate(value: unknown, limits: WireLimits): Decoded {
  const out: Decoded = { full: false, deleted: [], withdrawn: [], entries: [], unroutable: [], rejected: 0 };
  if (!isMap(value)) {
    out.rejected = 1;
    return out;
  }
  if (value.full !== undefined && typeof value.full !== "boolean") out.rejected++;
  out.full = value.full === true;
  let budget = limits.maxItems;
  // Each list is taken up to the remaining budget; anything past it counts as rejected.
  const take = (list: unknown, each: (item: unknown) => void): void => {
    if (list === undefined) return;
    if (!Array.isArray(list)) {
      out.rejected++;
      return;
    }
    for (const item of list) {
      if (budget <= 0) {
        out.rejected++;
        continue;
      }
      budget--;
      each(item);
    }
  };
  take(value.deleted, (item) => {
    const d = deletion(item);
    if (d) out.deleted.push(d);
    else out.rejected++;
  });
  take(value.withdrawn, (item) => {
    if (isKey(item)) out.withdrawn.push(item);
    else out.rejected++;
  });
  take(value.entries, (item) => {
    const a = advert(item, limits);
    if (a === undefined) out.rejected++;
    else if (typeof a === "string") {
      // A well-formed item whose path is too long: its route is as good as
      // withdrawn, so the sender's previous route for the key must not linger.
      out.rejected++;
      out.unroutable.push(a);
    } else out.entries.push(a);
  });
  return out;
}

/** The advert, or the key alone when only the path is out of bounds, or undefined when malformed. */
function advert(item: unknown, limits: WireLimits): Advert | string | undefined {
  if (!isMap(item) || !isName(item.origin) || !isSeq(item.seq)) return undefined;
  const ttl = item.ttlMs;
  if (typeof ttl !== "number" || !Number.isFinite(ttl) || ttl <= 0) return undefined;
  const path = item.path;
  if (!Array.isArray(path) || path.length === 0 || !path.every(isName) || path[0] !== item.origin) return undefined;
  if (new Set(path).size !== path.length) return undefined;
  let entry: Entry;
  try {
    entry = Entry.fromJSON(item.entry);
  } catch {
    return undefined;
  }
  if (!isKey(entry.key)) return undefined;
  if (path.length > limits.maxPathLength) return entry.key;
  return { key: entry.key, entry, origin: item.origin, seq: item.seq, ttlMs: Math.min(ttl, limits.maxTtlMs), path: path as string[] };
}

function deletion(item: unknown): Deletion | undefined {
  if (!isMap(item) || !isKey(item.key) || !isName(item.origin) || !isSeq(item.seq)) return undefined;
  const vnets = item.vnets ?? null;
  if (vnets !== null && (!Array.isArray(vnets) || vnets.length > MAX_VNETS || !vnets.every(isName))) return undefined;
  return { key: item.key, origin: item.origin, seq: item.seq, vnets: vnets as string[] | null };
}

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

function isName(value: unknown): value is string {
  return typeof value === "string" && value.length > 0 && value.length <= MAX_NAME;
}

function isKey(value: unknown): value is string {
  return typeof value === "string" && value.length > 0 && value.length <= MAX_KEY;
}

function isSeq(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 1;
}

/** Whether an entry (or deletion) in `vnets` may go to `peer`. */
export function visible(vnets: readonly string[] | null, peer: ReplicaPeer): boolean {
  if (vnets === null) return true;
  for (const v of vnets) {
    if (peer.scope === "network" && v === VLM.LOCAL_VNET) continue;
    if (peer.vnets === null || peer.vnets.includes(v)) return true;
  }
  return false;
}

/** An entry's wire form for `peer`: across a network link it leaves "local" behind. */
export function entryFor(entry: Entry, peer: ReplicaPeer): ReplicaItem["entry"] {
  const wire = entry.toJSON();
  if (peer.scope === "network" && wire.vnets !== null) wire.vnets = wire.vnets.filter((v) => v !== VLM.LOCAL_VNET);
  return wire;
}

/** The same content, but for "local", which crossing a network link removes. */
export function sameContent(a: Entry, b: Entry): boolean {
  const strip = (e: Entry): string => JSON.stringify({ ...e.toJSON(), vnets: e.vnets?.filter((v) => v !== VLM.LOCAL_VNET) ?? null });
  return strip(a) === strip(b);
}

export function sameEntry(a: Entry, b: Entry): boolean {
  return JSON.stringify(a.toJSON()) === JSON.stringify(b.toJSON());
}

export function wireDeletion(key: string, tomb: { origin: string; seq: number; vnets: readonly string[] | null }): ReplicaDeletion {
  return { key, origin: tomb.origin, seq: tomb.seq, vnets: tomb.vnets ? [...tomb.vnets] : null };
}

/** A copy of `peer`, checked (the owner's input, so a bad one throws). */
export function checkPeer(peer: ReplicaPeer, self: string): ReplicaPeer {
  if (typeof peer?.key !== "string" || peer.key.length === 0 || peer.key === self) {
    throw new InvalidArgumentError("a peer needs a non-empty key other than this replica's name");
  }
  if (peer.scope !== "machine" && peer.scope !== "network") throw new InvalidArgumentError(`peer scope must be "machine" or "network"`);
  const vnets = peer.vnets;
  if (vnets !== null && (!Array.isArray(vnets) || vnets.some((v) => typeof v !== "string"))) {
    throw new InvalidArgumentError("peer vnets must be a list of strings or null");
  }
  return { key: peer.key, vnets: vnets === null ? null : [...vnets], scope: peer.scope };
}
