/**
 * The 64-byte ZMTP greeting (digest §2.2).
 *
 * ```
 * offset  0      1..8      9     10     11     12..31      32         33..63
 *        +----+----------+----+------+------+-----------+-----------+--------+
 *        | FF | padding  | 7F | major| minor| mechanism | as-server | filler |
 *        +----+----------+----+------+------+-----------+-----------+--------+
 * ```
 *
 * Receiving checks only what libzmq checks: byte 0 is FF, bit 0 of byte 9 is
 * set, major >= 3, and the mechanism matches byte for byte. Padding and
 * as-server are ignored on purpose (libzmq writes "identity length + 1" into
 * the padding and always sends as-server = 0).
 */
import { ProtocolError } from "../errors.js";
import { GREETING_SIZE, VERSION_MAJOR, VERSION_MINOR } from "./constants.js";

export interface Greeting {
  major: number;
  minor: number;
  mechanism: string;
  asServer: boolean;
}

const MECHANISM_OFFSET = 12;
const MECHANISM_SIZE = 20;

/** Encodes our greeting: ZMTP 3.1, the given mechanism (default NULL). */
export function encodeGreeting(mechanism = "NULL", asServer = false): Buffer {
  if (!/^[A-Z0-9_.+-]{1,20}$/.test(mechanism)) {
    throw new RangeError(`invalid mechanism name ${JSON.stringify(mechanism)}`);
  }
  const g = Buffer.alloc(GREETING_SIZE);
  g[0] = 0xff;
  g[8] = 0x01; // libzmq style: identity length + 1, harmless to every peer
  g[9] = 0x7f;
  g[10] = VERSION_MAJOR;
  g[11] = VERSION_MINOR;
  g.write(mechanism, MECHANISM_OFFSET, "latin1");
  g[32] = asServer ? 1 : 0;
  return g;
}

/**
 * Checks a greeting prefix as far as it has arrived, so an old or non-ZMTP
 * peer is refused as early as libzmq would refuse it (after byte 1, 10 and 11)
 * instead of waiting for 64 bytes that will never come.
 * Returns an error, or undefined if the prefix is acceptable so far.
 */
export function checkGreetingPrefix(bytes: Uint8Array, length: number): ProtocolError | undefined {
  if (length >= 1 && bytes[0] !== 0xff) {
    return new ProtocolError("ERR_ZMTP_BAD_SIGNATURE", "peer did not send a ZMTP signature (first byte is not 0xFF)");
  }
  if (length >= 10 && ((bytes[9] ?? 0) & 0x01) === 0) {
    return new ProtocolError("ERR_ZMTP_BAD_SIGNATURE", "peer sent a ZMTP/1.0 signature");
  }
  if (length >= 11 && (bytes[10] ?? 0) < 3) {
    return new ProtocolError(
      "ERR_ZMTP_UNSUPPORTED_VERSION",
      `peer speaks ZMTP major version ${bytes[10] ?? 0}; only 3.x is supported`,
    );
  }
  return undefined;
}

/** Parses a complete 64-byte greeting, or throws a ProtocolError. */
export function parseGreeting(bytes: Uint8Array): Greeting {
  if (bytes.length < GREETING_SIZE) {
    throw new ProtocolError("ERR_ZMTP_UNSPECIFIED", "greeting is shorter than 64 bytes");
  }
  const bad = checkGreetingPrefix(bytes, GREETING_SIZE);
  if (bad) throw bad;
  const major = bytes[10] ?? 0;
  // A major above 3 is handled as 3.1, as libzmq does.
  const minor = major > 3 ? 1 : (bytes[11] ?? 0);
  let end = MECHANISM_OFFSET;
  while (end < MECHANISM_OFFSET + MECHANISM_SIZE && bytes[end] !== 0) end++;
  const mechanism = Buffer.from(bytes.buffer, bytes.byteOffset + MECHANISM_OFFSET, end - MECHANISM_OFFSET).toString("latin1");
  // The mechanism must be zero padded: libzmq compares all 20 bytes.
  for (let i = end; i < MECHANISM_OFFSET + MECHANISM_SIZE; i++) {
    if (bytes[i] !== 0) {
      throw new ProtocolError("ERR_ZMTP_MECHANISM_MISMATCH", "mechanism name is not zero padded");
    }
  }
  return { major, minor, mechanism, asServer: bytes[32] === 1 };
}
