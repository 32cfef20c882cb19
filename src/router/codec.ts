/**
 * Msg <-> bytes, the form a Msg takes between processes and machines: a
 * fixed binary envelope (addresses, ids, hops, subject), then the optional
 * meta and contents as MessagePack. All integers are big-endian.
 *
 * | offset | size | field |
 * |---|---|---|
 * | 0 | 1 | format: 0x01 |
 * | 1 | 1 | flags: 0x01 from, 0x02 replyId, 0x04 meta, 0x08 contents (other bits 0) |
 * | 2 | 12 | to: machineId, routerId, connectionId (u32 each) |
 * |   | 12 | from (3 x u32), if flag 0x01 |
 * |   | 8 | id (u64, at most 2^53 - 1) |
 * |   | 8 | replyId (u64, at most 2^53 - 1), if flag 0x02 |
 * |   | 1 | hops (u8) |
 * |   | 2 + n | subject: u16 byte length, then n bytes of UTF-8 |
 * |   | 4 + m | meta: u32 byte length, then one MessagePack map, if flag 0x04 |
 * |   | rest | contents: one MessagePack value filling the rest, if flag 0x08 |
 *
 * Without the contents flag the envelope ends right after the subject (or
 * meta). docs/protocols/router.md gives the same table with test vectors.
 *
 * Decoding checks everything and throws only InvalidArgumentError (EINVAL):
 * truncated or trailing bytes, another format byte, unknown flags, an id
 * beyond 2^53 - 1, a subject that is not well-formed UTF-8 (rejected, not
 * repaired), meta that is not a map, MessagePack that does not parse. A
 * subject that is not well-formed Unicode (a lone surrogate) cannot be
 * encoded either, so every subject round-trips exactly. Strings inside meta
 * and contents follow the MessagePack library (invalid UTF-8 is replaced).
 *
 * Speed: this runs for every message that leaves or enters a process, so
 * small subjects and addresses are cached (both are immutable and repeat
 * all the time), scalar contents are encoded by hand, and the library is
 * only called for structured values. Encoding has two steps, prepareMsg()
 * (checks, size) and writePreparedMsg() (bytes), so a caller can write the
 * envelope into a buffer it already has: the machine links write it
 * straight into the ZMTP batch.
 */
import { Decoder, Encoder } from "@msgpack/msgpack";
import { InvalidArgumentError } from "../errors.js";
import { Address } from "./address.js";
import { Msg } from "./msg.js";

/** The first byte of every envelope. */
export const MSG_FORMAT = 0x01;
export const MSG_FLAG_FROM = 0x01;
export const MSG_FLAG_REPLY_ID = 0x02;
export const MSG_FLAG_META = 0x04;
export const MSG_FLAG_CONTENTS = 0x08;
const KNOWN_FLAGS = 0x0f;
/** Longest subject, in UTF-8 bytes (its length is a u16). */
export const MAX_SUBJECT_BYTES = 0xffff;
/** Default limit of decodeMsg. */
export const DEFAULT_MAX_MSG_BYTES = 64 * 1024 * 1024;

const TWO_32 = 0x1_0000_0000;
/** The high word of an id may hold 21 bits: ids stay at or below 2^53 - 1. */
const MAX_ID_HIGH = 0x1f_ffff;
/** format, flags, to, id, hops, subject length. */
const MIN_SIZE = 1 + 1 + 12 + 8 + 1 + 2;

// ---- encoding ------------------------------------------------------------------

// Two encoders, so meta's bytes (a view of its encoder's buffer) survive
// while contents are encoded. Library errors mean "cannot be encoded".
const metaEncoder = new Encoder();
const contentsEncoder = new Encoder();
/** Set while the library runs: a getter calling encodeMsg gets fresh encoders, not ours. */
let encoding = false;

/** Subjects already encoded (the same few subjects travel all the time). */
const subjectBytes = new Map<string, Uint8Array>();
const SUBJECT_CACHE_ENTRIES = 256;
const SUBJECT_CACHE_MAX_BYTES = 64;

function encodeSubject(subject: string): Uint8Array {
  const cached = subjectBytes.get(subject);
  if (cached !== undefined) return cached;
  if (typeof subject !== "string") throw new InvalidArgumentError("Msg subject must be a string");
  if (!(subject as string & { isWellFormed(): boolean }).isWellFormed()) {
    throw new InvalidArgumentError("Msg subject must be well-formed Unicode (it has a lone surrogate)");
  }
  const bytes = new Uint8Array(Buffer.from(subject, "utf8"));
  if (bytes.length > MAX_SUBJECT_BYTES) {
    throw new InvalidArgumentError(`Msg subject of ${bytes.length} bytes exceeds ${MAX_SUBJECT_BYTES}`);
  }
  if (bytes.length <= SUBJECT_CACHE_MAX_BYTES) {
    if (subjectBytes.size >= SUBJECT_CACHE_ENTRIES) subjectBytes.clear();
    subjectBytes.set(subject, bytes);
  }
  return bytes;
}

function isId(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/**
 * Size of `value` as MessagePack when it is a scalar encoded here by hand
 * (nil, booleans, 32-bit integers, short ASCII strings); -1 otherwise.
 */
function scalarSize(value: unknown): number {
  switch (typeof value) {
    case "number":
      if ((value | 0) === value || (value >>> 0) === value) {
        if (value >= -32 && value < 128) return 1;
        if (value >= -0x80 && value < 0x100) return 2;
        if (value >= -0x8000 && value < 0x1_0000) return 3;
        return 5;
      }
      return -1;
    case "boolean":
      return 1;
    case "string": {
      const n = value.length;
      if (n > 31) return -1;
      for (let i = 0; i < n; i++) if (value.charCodeAt(i) > 0x7f) return -1;
      return 1 + n;
    }
    case "object":
      return value === null ? 1 : -1;
    default:
      return -1;
  }
}

/** Writes a value scalarSize() accepted, in the smallest MessagePack form; returns the next offset. */
function writeScalar(b: Uint8Array, p: number, value: unknown): number {
  if (value === null) {
    b[p] = 0xc0;
    return p + 1;
  }
  if (typeof value === "boolean") {
    b[p] = value ? 0xc3 : 0xc2;
    return p + 1;
  }
  if (typeof value === "string") {
    const n = value.length;
    b[p++] = 0xa0 | n;
    for (let i = 0; i < n; i++) b[p + i] = value.charCodeAt(i);
    return p + n;
  }
  const v = value as number;
  if (v >= -32 && v < 128) {
    b[p] = v & 0xff;
    return p + 1;
  }
  if (v >= 0) {
    if (v < 0x100) {
      b[p] = 0xcc;
      b[p + 1] = v;
      return p + 2;
    }
    if (v < 0x1_0000) {
      b[p] = 0xcd;
      writeU16(b, p + 1, v);
      return p + 3;
    }
    b[p] = 0xce;
    writeU32(b, p + 1, v);
    return p + 5;
  }
  if (v >= -0x80) {
    b[p] = 0xd0;
    b[p + 1] = v & 0xff;
    return p + 2;
  }
  if (v >= -0x8000) {
    b[p] = 0xd1;
    writeU16(b, p + 1, v & 0xffff);
    return p + 3;
  }
  b[p] = 0xd2;
  writeU32(b, p + 1, v >>> 0);
  return p + 5;
}

function writeU16(b: Uint8Array, p: number, v: number): void {
  b[p] = v >>> 8;
  b[p + 1] = v & 0xff;
}

function writeU32(b: Uint8Array, p: number, v: number): void {
  b[p] = v >>> 24;
  b[p + 1] = (v >>> 16) & 0xff;
  b[p + 2] = (v >>> 8) & 0xff;
  b[p + 3] = v & 0xff;
}

function writeAddress(b: Uint8Array, p: number, a: Address): void {
  writeU32(b, p, a.machineId);
  writeU32(b, p + 4, a.routerId);
  writeU32(b, p + 8, a.connectionId);
}

function writeId(b: Uint8Array, p: number, id: number): void {
  writeU32(b, p, Math.floor(id / TWO_32));
  writeU32(b, p + 4, id >>> 0);
}

/** Encodes meta or contents with the library; the bytes are valid until that encoder runs again. */
function encodeValue(encoder: Encoder, value: unknown, what: string, nested: boolean): Uint8Array {
  try {
    return nested ? new Encoder().encode(value) : encoder.encodeSharedRef(value);
  } catch (error) {
    throw new InvalidArgumentError(`Msg ${what} cannot be encoded as MessagePack: ${(error as Error).message}`, { cause: error });
  }
}

// What prepareMsg() worked out, for writePreparedMsg(). Set only once the
// library calls are over, so a nested encode (a getter in the contents
// calling encodeMsg) cannot leave a half-prepared state behind.
let preparedMsg: Msg | undefined;
let preparedFlags = 0;
let preparedSubject: Uint8Array = new Uint8Array(0);
let preparedMeta: Uint8Array | undefined;
let preparedContents: Uint8Array | undefined;

/**
 * First half of encoding: checks `msg`, encodes what needs the MessagePack
 * library, and returns the envelope's size. writePreparedMsg() must follow
 * before anything else is encoded. Throws InvalidArgumentError for a Msg
 * that has no encoding.
 */
export function prepareMsg(msg: Msg): number {
  const { from, id, replyId, meta, contents, hops } = msg;
  if (!isId(id)) throw new InvalidArgumentError(`Msg id must be an integer from 0 to 2^53 - 1, got ${String(id)}`);
  if (replyId !== undefined && !isId(replyId)) {
    throw new InvalidArgumentError(`Msg replyId must be an integer from 0 to 2^53 - 1, got ${String(replyId)}`);
  }
  if ((hops & 0xff) !== hops) throw new InvalidArgumentError(`Msg hops must be an integer from 0 to 255, got ${String(hops)}`);
  const subject = encodeSubject(msg.subject);
  let flags = 0;
  let size = MIN_SIZE + subject.length;
  if (from !== undefined) {
    flags |= MSG_FLAG_FROM;
    size += 12;
  }
  if (replyId !== undefined) {
    flags |= MSG_FLAG_REPLY_ID;
    size += 8;
  }
  let metaBytes: Uint8Array | undefined;
  let contentsBytes: Uint8Array | undefined;
  const outer = encoding;
  encoding = true;
  try {
    if (meta !== undefined) {
      metaBytes = encodeValue(metaEncoder, meta, "meta", outer);
      const head = metaBytes[0]!;
      if ((head & 0xf0) !== 0x80 && head !== 0xde && head !== 0xdf) throw new InvalidArgumentError("Msg meta must be a map");
      flags |= MSG_FLAG_META;
      size += 4 + metaBytes.length;
    }
    if (contents !== undefined) {
      flags |= MSG_FLAG_CONTENTS;
      const scalar = scalarSize(contents);
      if (scalar < 0) {
        contentsBytes = encodeValue(contentsEncoder, contents, "contents", outer);
        size += contentsBytes.length;
      } else {
        size += scalar;
      }
    }
  } finally {
    encoding = outer;
  }
  preparedMsg = msg;
  preparedFlags = flags;
  preparedSubject = subject;
  preparedMeta = metaBytes;
  preparedContents = contentsBytes;
  return size;
}

/** Second half: writes the envelope prepareMsg() measured into `out` at `at`. */
export function writePreparedMsg(out: Uint8Array, at: number): void {
  const msg = preparedMsg;
  if (msg === undefined) throw new Error("writePreparedMsg without prepareMsg");
  preparedMsg = undefined;
  const { from, replyId, contents } = msg;
  const subject = preparedSubject;
  const metaBytes = preparedMeta;
  const contentsBytes = preparedContents;
  preparedMeta = preparedContents = undefined;
  out[at] = MSG_FORMAT;
  out[at + 1] = preparedFlags;
  writeAddress(out, at + 2, msg.to);
  let p = at + 14;
  if (from !== undefined) {
    writeAddress(out, p, from);
    p += 12;
  }
  writeId(out, p, msg.id);
  p += 8;
  if (replyId !== undefined) {
    writeId(out, p, replyId);
    p += 8;
  }
  out[p++] = msg.hops;
  writeU16(out, p, subject.length);
  p += 2;
  for (let i = 0; i < subject.length; i++) out[p + i] = subject[i]!;
  p += subject.length;
  if (metaBytes !== undefined) {
    writeU32(out, p, metaBytes.length);
    out.set(metaBytes, p + 4);
    p += 4 + metaBytes.length;
  }
  if (contentsBytes !== undefined) out.set(contentsBytes, p);
  else if (contents !== undefined) writeScalar(out, p, contents);
}

/**
 * Encodes a Msg. The result owns its whole ArrayBuffer (no other bytes), so
 * it may be posted or transferred to another thread as is. Throws
 * InvalidArgumentError for a Msg that has no encoding (id out of range, a
 * subject of more than 65535 bytes, meta that is not a map, contents
 * MessagePack cannot hold...).
 */
export function encodeMsg(msg: Msg): Uint8Array {
  const out = new Uint8Array(prepareMsg(msg));
  writePreparedMsg(out, 0);
  return out;
}

/**
 * The same bytes as encodeMsg, as a Buffer that may share its ArrayBuffer
 * with other small buffers (node's pool). Cheaper; for frames handed to a
 * socket, never for postMessage (which would copy the whole pool).
 */
export function encodeMsgFrame(msg: Msg): Buffer {
  const out = Buffer.allocUnsafe(prepareMsg(msg));
  writePreparedMsg(out, 0);
  return out;
}

// ---- decoding ------------------------------------------------------------------

const decoder = new Decoder();
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const NO_OPTIONS = {};

/** Recently decoded subjects, by a hash of their bytes (direct-mapped). */
const SUBJECT_SLOTS = 128;
const subjectKeys: Array<Uint8Array | undefined> = new Array(SUBJECT_SLOTS).fill(undefined);
const subjectTexts: string[] = new Array(SUBJECT_SLOTS).fill("");

/** Recently decoded addresses (Address is immutable, so sharing one is safe). */
const ADDRESS_SLOTS = 64;
const addresses: Array<Address | undefined> = new Array(ADDRESS_SLOTS).fill(undefined);

function invalid(message: string, cause?: unknown): InvalidArgumentError {
  return new InvalidArgumentError(message, cause === undefined ? undefined : { cause });
}

function readU32(b: Uint8Array, p: number): number {
  return b[p]! * 0x100_0000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);
}

function readId(b: Uint8Array, p: number, what: string): number {
  const high = readU32(b, p);
  if (high > MAX_ID_HIGH) throw invalid(`Msg ${what} exceeds 2^53 - 1`);
  return high * TWO_32 + readU32(b, p + 4);
}

function readAddress(b: Uint8Array, p: number): Address {
  const m = readU32(b, p);
  const r = readU32(b, p + 4);
  const c = readU32(b, p + 8);
  // Mix every bit: router ids of one machine often share their low bits.
  let h = Math.imul(m, 0x9e3779b1) ^ Math.imul(r, 0x85ebca77) ^ Math.imul(c, 0xc2b2ae3d);
  h ^= h >>> 15;
  const slot = (h ^ (h >>> 7)) & (ADDRESS_SLOTS - 1);
  const hit = addresses[slot];
  if (hit !== undefined && hit.connectionId === c && hit.routerId === r && hit.machineId === m) return hit;
  const address = new Address(m, r, c);
  addresses[slot] = address;
  return address;
}

function readSubject(b: Uint8Array, p: number, n: number): string {
  if (n === 0) return "";
  if (n > SUBJECT_CACHE_MAX_BYTES) return readUtf8(b, p, n);
  let hash = n;
  for (let i = 0; i < n; i++) hash = (Math.imul(hash, 31) + b[p + i]!) | 0;
  const slot = hash & (SUBJECT_SLOTS - 1);
  const key = subjectKeys[slot];
  if (key !== undefined && key.length === n) {
    let i = 0;
    while (i < n && key[i] === b[p + i]) i++;
    if (i === n) return subjectTexts[slot]!;
  }
  const text = readUtf8(b, p, n);
  subjectKeys[slot] = Uint8Array.prototype.slice.call(b, p, p + n);
  subjectTexts[slot] = text;
  return text;
}

function readUtf8(b: Uint8Array, p: number, n: number): string {
  try {
    return utf8.decode(b.subarray(p, p + n));
  } catch (error) {
    throw invalid("Msg subject is not well-formed UTF-8", error);
  }
}

/** One MessagePack value filling b[p, end); scalars of one byte are read here. */
function readValue(b: Uint8Array, p: number, end: number, what: string): unknown {
  if (end - p === 1) {
    const x = b[p]!;
    if (x < 0x80) return x;
    if (x >= 0xe0) return x - 0x100;
    if (x === 0xc0) return null;
    if (x === 0xc2) return false;
    if (x === 0xc3) return true;
  }
  try {
    return decoder.decode(b.subarray(p, end));
  } catch (error) {
    throw invalid(`Msg ${what} is not one MessagePack value: ${(error as Error).message}`, error);
  }
}

/** Decodes a Msg; throws InvalidArgumentError (EINVAL) for anything that is not exactly one envelope. */
export function decodeMsg(bytes: Uint8Array, maxBytes = DEFAULT_MAX_MSG_BYTES): Msg {
  const end = bytes.length;
  if (end > maxBytes) throw invalid(`message of ${end} bytes exceeds ${maxBytes}`);
  if (end < MIN_SIZE) throw invalid(`a Msg has at least ${MIN_SIZE} bytes, got ${end}`);
  if (bytes[0] !== MSG_FORMAT) throw invalid(`not a Msg envelope (format byte ${bytes[0]!}, expected ${MSG_FORMAT})`);
  const flags = bytes[1]!;
  if ((flags & ~KNOWN_FLAGS) !== 0) throw invalid(`unknown Msg flags 0x${flags.toString(16)}`);
  // Every fixed-size field present is known from the flags: one length check covers them.
  let p = 2;
  const fixedEnd = MIN_SIZE + ((flags & MSG_FLAG_FROM) !== 0 ? 12 : 0) + ((flags & MSG_FLAG_REPLY_ID) !== 0 ? 8 : 0);
  if (end < fixedEnd) throw invalid("Msg truncated in its header");
  const to = readAddress(bytes, p);
  p += 12;
  let from: Address | undefined;
  if ((flags & MSG_FLAG_FROM) !== 0) {
    from = readAddress(bytes, p);
    p += 12;
  }
  const id = readId(bytes, p, "id");
  p += 8;
  let replyId: number | undefined;
  if ((flags & MSG_FLAG_REPLY_ID) !== 0) {
    replyId = readId(bytes, p, "replyId");
    p += 8;
  }
  const hops = bytes[p]!;
  const subjectLength = (bytes[p + 1]! << 8) | bytes[p + 2]!;
  p += 3;
  if (end - p < subjectLength) throw invalid("Msg truncated in its subject");
  const subject = readSubject(bytes, p, subjectLength);
  p += subjectLength;
  let meta: Record<string, unknown> | undefined;
  if ((flags & MSG_FLAG_META) !== 0) {
    if (end - p < 4) throw invalid("Msg truncated before its meta");
    const metaLength = readU32(bytes, p);
    p += 4;
    if (end - p < metaLength) throw invalid("Msg truncated in its meta");
    const value = readValue(bytes, p, p + metaLength, "meta");
    if (typeof value !== "object" || value === null || Array.isArray(value) || value instanceof Uint8Array) {
      throw invalid("Msg meta must be a MessagePack map");
    }
    meta = value as Record<string, unknown>;
    p += metaLength;
  }
  let contents: unknown;
  if ((flags & MSG_FLAG_CONTENTS) !== 0) {
    if (p === end) throw invalid("Msg truncated: contents flagged but absent");
    contents = readValue(bytes, p, end, "contents");
  } else if (p !== end) {
    throw invalid(`${end - p} trailing bytes after the Msg`);
  }
  const msg = new Msg(to, subject, contents, NO_OPTIONS);
  msg.from = from;
  msg.id = id;
  msg.replyId = replyId;
  msg.meta = meta;
  msg.hops = hops;
  return msg;
}
