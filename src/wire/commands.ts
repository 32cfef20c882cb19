/**
 * ZMTP commands (digest §2.5-2.11): READY, ERROR, SUBSCRIBE, CANCEL, PING,
 * PONG, and the metadata properties READY carries.
 *
 * ```
 * command-body = name-length(1) name data
 * property     = name-length(1) name value-length(4, BE) value
 * ```
 *
 * Encoders return whole frames (flags + size + body); parsers take the
 * command body as the decoder hands it out.
 */
import { ProtocolError } from "../errors.js";
import { FLAG_COMMAND, FLAG_LONG } from "./constants.js";

export interface Command {
  /** The command name, e.g. "READY" (case-sensitive on the wire). */
  name: string;
  /** The bytes after the name (a view, not a copy). */
  data: Buffer;
}

/** Splits a command body into name and data. */
export function parseCommand(body: Buffer): Command {
  const nameLength = body[0] ?? 0;
  if (nameLength === 0 || body.length < 1 + nameLength) {
    // libzmq's PLAIN server spells ERROR as 5E 'RROR' (digest §3.4); accept it.
    if (body.length >= 5 && body[0] === 0x5e && body.toString("latin1", 1, 5) === "RROR") {
      return { name: "ERROR", data: body.subarray(5) };
    }
    throw new ProtocolError("ERR_ZMTP_MALFORMED_COMMAND_UNSPECIFIED", "command name is truncated");
  }
  return { name: body.toString("latin1", 1, 1 + nameLength), data: body.subarray(1 + nameLength) };
}

/** Encodes a command frame `name data` with the right short/long header. */
export function encodeCommand(name: string, data?: Uint8Array): Buffer {
  const dataLength = data?.length ?? 0;
  const bodyLength = 1 + name.length + dataLength;
  const long = bodyLength > 255;
  const headerLength = long ? 9 : 2;
  const frame = Buffer.allocUnsafe(headerLength + bodyLength);
  if (long) {
    frame[0] = FLAG_COMMAND | FLAG_LONG;
    frame.writeBigUInt64BE(BigInt(bodyLength), 1);
  } else {
    frame[0] = FLAG_COMMAND;
    frame[1] = bodyLength;
  }
  frame[headerLength] = name.length;
  frame.write(name, headerLength + 1, "latin1");
  if (data && dataLength > 0) frame.set(data, headerLength + 1 + name.length);
  return frame;
}

/** Connection metadata: property names keep their wire spelling. */
export type Metadata = ReadonlyArray<readonly [name: string, value: Buffer]>;

const PROPERTY_NAME = /^[A-Za-z0-9_.+-]{1,255}$/;

/** Encodes metadata properties in order. */
export function encodeMetadata(properties: Metadata): Buffer {
  let size = 0;
  for (const [name, value] of properties) {
    if (!PROPERTY_NAME.test(name)) throw new RangeError(`invalid property name ${JSON.stringify(name)}`);
    size += 1 + name.length + 4 + value.length;
  }
  const out = Buffer.allocUnsafe(size);
  let offset = 0;
  for (const [name, value] of properties) {
    out[offset++] = name.length;
    offset += out.write(name, offset, "latin1");
    out.writeUInt32BE(value.length, offset);
    offset += 4;
    value.copy(out, offset);
    offset += value.length;
  }
  return out;
}

/**
 * Parses metadata properties. Names are matched case-insensitively by
 * {@link getProperty}, as the RFC says; trailing bytes that do not form a
 * whole property are an error, as in libzmq.
 */
export function parseMetadata(data: Buffer): Array<[string, Buffer]> {
  const properties: Array<[string, Buffer]> = [];
  let offset = 0;
  while (offset < data.length) {
    const nameLength = data[offset]!;
    if (nameLength === 0 || offset + 1 + nameLength + 4 > data.length) {
      throw new ProtocolError("ERR_ZMTP_INVALID_METADATA", "truncated or empty property name");
    }
    const name = data.toString("latin1", offset + 1, offset + 1 + nameLength);
    if (!PROPERTY_NAME.test(name)) {
      throw new ProtocolError("ERR_ZMTP_INVALID_METADATA", `invalid property name ${JSON.stringify(name)}`);
    }
    offset += 1 + nameLength;
    const valueLength = data.readUInt32BE(offset);
    offset += 4;
    if (valueLength > data.length - offset) {
      throw new ProtocolError("ERR_ZMTP_INVALID_METADATA", `property ${name} value is truncated`);
    }
    properties.push([name, data.subarray(offset, offset + valueLength)]);
    offset += valueLength;
  }
  return properties;
}

/** Finds a property by name, case-insensitively. */
export function getProperty(properties: Metadata, name: string): Buffer | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of properties) if (key.toLowerCase() === wanted) return value;
  return undefined;
}

/** READY: exact-case `Socket-Type` first, then `Identity` when given, then extras. */
export function encodeReady(socketType: string, identity: Buffer | undefined, extra: Metadata = []): Buffer {
  const properties: Array<readonly [string, Buffer]> = [["Socket-Type", Buffer.from(socketType, "latin1")]];
  if (identity !== undefined) properties.push(["Identity", identity]);
  properties.push(...extra);
  return encodeCommand("READY", encodeMetadata(properties));
}

/** ERROR with a reason of up to 255 bytes. */
export function encodeError(reason: string): Buffer {
  const text = Buffer.from(reason, "utf8").subarray(0, 255);
  const data = Buffer.allocUnsafe(1 + text.length);
  data[0] = text.length;
  text.copy(data, 1);
  return encodeCommand("ERROR", data);
}

export function parseError(data: Buffer): string {
  const length = data[0];
  if (length === undefined || 1 + length > data.length) {
    throw new ProtocolError("ERR_ZMTP_MALFORMED_COMMAND_ERROR", "ERROR reason is truncated");
  }
  return data.toString("utf8", 1, 1 + length);
}

export interface Ping {
  /** Time to live in milliseconds (sent in tenths of a second); 0 = none. */
  ttlMs: number;
  /** Up to 16 bytes the peer must echo. */
  context: Buffer;
}

/** PING with a TTL in milliseconds (floored to tenths of a second, capped at 6553.5 s). */
export function encodePing(ttlMs: number, context: Uint8Array = Buffer.alloc(0)): Buffer {
  const data = Buffer.allocUnsafe(2 + context.length);
  data.writeUInt16BE(Math.min(0xffff, Math.max(0, Math.floor(ttlMs / 100))), 0);
  data.set(context, 2);
  return encodeCommand("PING", data);
}

export function parsePing(data: Buffer): Ping {
  if (data.length < 2) throw new ProtocolError("ERR_ZMTP_MALFORMED_COMMAND_UNSPECIFIED", "PING is truncated");
  return { ttlMs: data.readUInt16BE(0) * 100, context: data.subarray(2) };
}

/** PONG echoing at most 16 bytes of the PING's context, as libzmq does. */
export function encodePong(context: Uint8Array): Buffer {
  return encodeCommand("PONG", context.subarray(0, 16));
}

/** SUBSCRIBE command (ZMTP 3.1 peers). */
export function encodeSubscribe(topic: Uint8Array): Buffer {
  return encodeCommand("SUBSCRIBE", topic);
}

/** CANCEL command (ZMTP 3.1 peers). */
export function encodeCancel(topic: Uint8Array): Buffer {
  return encodeCommand("CANCEL", topic);
}

/** Legacy (ZMTP 3.0) subscription message body: 01 topic or 00 topic. */
export function legacySubscription(subscribe: boolean, topic: Uint8Array): Buffer {
  const body = Buffer.allocUnsafe(1 + topic.length);
  body[0] = subscribe ? 1 : 0;
  body.set(topic, 1);
  return body;
}
