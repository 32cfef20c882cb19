/**
 * Directory entries: who provides which responsibility. An entry is
 * (addr, service, params, vnets, perms), as in VLMessaging:
 *
 * - `service` and `params` define the responsibility, e.g.
 *   "vol-surface", { ccy: "USD", "asset-class": "equity" };
 * - `vnets`: the virtual networks the entry is visible in (null = every one);
 * - `perms`: who may see and use it (null = everyone).
 */
import { InvalidArgumentError } from "../errors.js";
import { Address } from "./address.js";

export type Params = Record<string, unknown>;

export class Entry {
  constructor(
    readonly addr: Address,
    readonly service: string,
    readonly params: Params | null = null,
    readonly vnets: readonly string[] | null = null,
    readonly perms: readonly string[] | null = null,
  ) {}

  /** One entry per (address, service). */
  get key(): string {
    return `${this.addr.toString()}/${this.service}`;
  }

  /** Wire form (MessagePack): a map with the same field names, addr as [m, r, c]. */
  toJSON(): { addr: [number, number, number]; service: string; params: Params | null; vnets: string[] | null; perms: string[] | null } {
    return {
      addr: this.addr.toJSON(),
      service: this.service,
      params: this.params,
      vnets: this.vnets ? [...this.vnets] : null,
      perms: this.perms ? [...this.perms] : null,
    };
  }

  static fromJSON(value: unknown): Entry {
    if (value instanceof Entry) return value;
    if (typeof value !== "object" || value === null) throw new InvalidArgumentError("an entry is a map");
    const v = value as Record<string, unknown>;
    if (typeof v.service !== "string" || v.service.length === 0) throw new InvalidArgumentError("entry service must be a non-empty string");
    const params = v.params ?? null;
    if (params !== null && (typeof params !== "object" || Array.isArray(params))) {
      throw new InvalidArgumentError("entry params must be a map or null");
    }
    return new Entry(Address.fromJSON(v.addr), v.service, params as Params | null, stringList(v.vnets, "vnets"), stringList(v.perms, "perms"));
  }
}

function stringList(value: unknown, name: string): string[] | null {
  if (value === undefined || value === null) return null;
  if (!Array.isArray(value) || value.some((x) => typeof x !== "string")) {
    throw new InvalidArgumentError(`entry ${name} must be a list of strings or null`);
  }
  return value as string[];
}

/**
 * A query for entries: the service, the params every match must have (equal
 * values), the vnet asked in (a Directory fills in the vnets it serves when
 * none is given; a list means any of them) and the asker's perms.
 */
export interface EntryQuery {
  service: string;
  params?: Params | null;
  vnet?: string | readonly string[] | null;
  perms?: readonly string[] | null;
}

/** Whether `entry` answers `query`. */
export function matches(entry: Entry, query: EntryQuery): boolean {
  if (entry.service !== query.service) return false;
  for (const [key, value] of Object.entries(query.params ?? {})) {
    if (!sameValue(entry.params?.[key], value)) return false;
  }
  if (entry.vnets !== null) {
    const vnet = query.vnet;
    if (vnet == null) return false;
    if (typeof vnet === "string" ? !entry.vnets.includes(vnet) : !vnet.some((v) => entry.vnets!.includes(v))) return false;
  }
  if (entry.perms !== null && !(query.perms ?? []).some((p) => entry.perms!.includes(p))) return false;
  return true;
}

function sameValue(a: unknown, b: unknown): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}
