/**
 * An Address names one connection: (machineId, routerId, connectionId).
 * Printable as "machine:router:connection", comparable, and serialisable as
 * a three-number array (its MessagePack form).
 */
import { InvalidArgumentError } from "../errors.js";

/** Each router's own directory connection has this connection id. */
export const DIRECTORY_CONNECTION_ID = 1;
/** Ids from here on are handed to application connections. */
export const FIRST_CONNECTION_ID = 16;

const MAX_ID = 0xffff_ffff;

/** An integer from 0 to 2^32 - 1 (`>>> 0` keeps exactly those, and rejects NaN, fractions and non-numbers). */
function isId(id: number): boolean {
  return typeof id === "number" && id >>> 0 === id;
}

function badId(name: string, id: unknown): InvalidArgumentError {
  return new InvalidArgumentError(`${name} must be an integer from 0 to ${MAX_ID}, got ${String(id)}`);
}

export class Address {
  constructor(
    readonly machineId: number,
    readonly routerId: number,
    readonly connectionId: number,
  ) {
    // Addresses are made for every message that arrives: plain checks, no arrays.
    if (!isId(machineId)) throw badId("machineId", machineId);
    if (!isId(routerId)) throw badId("routerId", routerId);
    if (!isId(connectionId)) throw badId("connectionId", connectionId);
  }

  /** "machine:router:connection". */
  toString(): string {
    return `${this.machineId}:${this.routerId}:${this.connectionId}`;
  }

  /** The same text as toString(), for logs and maps. */
  get key(): string {
    return this.toString();
  }

  equals(other: Address | undefined): boolean {
    return (
      other !== undefined &&
      other.machineId === this.machineId &&
      other.routerId === this.routerId &&
      other.connectionId === this.connectionId
    );
  }

  /** The address of the directory connection on this address's router. */
  get directory(): Address {
    return new Address(this.machineId, this.routerId, DIRECTORY_CONNECTION_ID);
  }

  /** Wire form: [machineId, routerId, connectionId]. */
  toJSON(): [number, number, number] {
    return [this.machineId, this.routerId, this.connectionId];
  }

  static fromJSON(value: unknown): Address {
    if (!Array.isArray(value) || value.length !== 3) {
      throw new InvalidArgumentError("an address is an array of three ids");
    }
    return new Address(value[0] as number, value[1] as number, value[2] as number);
  }

  /** Parses "machine:router:connection". */
  static parse(text: string): Address {
    const parts = text.split(":");
    if (parts.length !== 3 || parts.some((p) => !/^\d+$/.test(p))) {
      throw new InvalidArgumentError(`not an address: ${JSON.stringify(text)}`);
    }
    return new Address(Number(parts[0]), Number(parts[1]), Number(parts[2]));
  }
}
