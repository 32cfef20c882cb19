/**
 * aiomsg protocol v1 on the wire: frame and envelope constants, encoders,
 * and an incremental frame decoder. Pure: no I/O, no timers.
 *
 * ```
 * frame    = length:u32be envelope          (length counts the envelope)
 * envelope = type:u8 body
 *   0x01 HELLO      version:u8 (= 1) identity:16
 *   0x02 HEARTBEAT  (empty)
 *   0x03 DATA       payload
 *   0x04 DATA_REQ   message-id:16 payload
 *   0x05 ACK        message-id:16
 * ```
 *
 * Unknown envelope types decode as `{ kind: "unknown" }` so the caller can
 * skip them: the length prefix already consumed the frame.
 */
import { ProtocolError } from "../errors.js";

export const TYPE_HELLO = 0x01;
export const TYPE_HEARTBEAT = 0x02;
export const TYPE_DATA = 0x03;
export const TYPE_DATA_REQ = 0x04;
export const TYPE_ACK = 0x05;

/** The only protocol version we speak. */
export const PROTOCOL_VERSION = 0x01;
/** Bytes in a socket identity. */
export const IDENTITY_LENGTH = 16;
/** Bytes in an at-least-once message id. */
export const MESSAGE_ID_LENGTH = 16;
/** Bytes of the length prefix. */
export const LENGTH_PREFIX = 4;
/** Largest envelope accepted by default (64 MiB); larger frames close the connection. */
export const DEFAULT_MAX_FRAME_SIZE = 64 * 1024 * 1024;
/** The format allows lengths up to 2^32-1; a limit above it means "no limit of our own". */
export const MAX_FRAME_SIZE_LIMIT = 0xffff_ffff;

export type Envelope =
  | { kind: "hello"; version: number; identity: Buffer }
  | { kind: "heartbeat" }
  | { kind: "data"; payload: Buffer }
  | { kind: "data-req"; id: Buffer; payload: Buffer }
  | { kind: "ack"; id: Buffer }
  | { kind: "unknown"; type: number };

// ------------------------------------------------------------------ encoding

/** The 5 bytes that start a frame whose envelope body has `bodyLength` bytes: the length prefix and the type. */
export function frameHeader(type: number, bodyLength: number): Buffer {
  const header = Buffer.allocUnsafe(LENGTH_PREFIX + 1);
  header.writeUInt32BE(bodyLength + 1, 0);
  header[LENGTH_PREFIX] = type;
  return header;
}

/** One whole frame: header and body parts copied into a single buffer. */
export function encodeFrame(type: number, ...body: readonly Uint8Array[]): Buffer {
  let bodyLength = 0;
  for (const part of body) bodyLength += part.length;
  const out = Buffer.allocUnsafe(LENGTH_PREFIX + 1 + bodyLength);
  out.writeUInt32BE(bodyLength + 1, 0);
  out[LENGTH_PREFIX] = type;
  let offset = LENGTH_PREFIX + 1;
  for (const part of body) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

export function encodeHello(identity: Uint8Array): Buffer {
  checkLength(identity, IDENTITY_LENGTH, "identity");
  return encodeFrame(TYPE_HELLO, Uint8Array.of(PROTOCOL_VERSION), identity);
}

export function encodeHeartbeat(): Buffer {
  return encodeFrame(TYPE_HEARTBEAT);
}

export function encodeData(payload: Uint8Array): Buffer {
  return encodeFrame(TYPE_DATA, payload);
}

export function encodeDataReq(id: Uint8Array, payload: Uint8Array): Buffer {
  checkLength(id, MESSAGE_ID_LENGTH, "message id");
  return encodeFrame(TYPE_DATA_REQ, id, payload);
}

export function encodeAck(id: Uint8Array): Buffer {
  checkLength(id, MESSAGE_ID_LENGTH, "message id");
  return encodeFrame(TYPE_ACK, id);
}

function checkLength(value: Uint8Array, length: number, what: string): void {
  if (value.length !== length) throw new RangeError(`${what} must be ${length} bytes, got ${value.length}`);
}

// ------------------------------------------------------------------ decoding

/** One complete frame: its envelope type and the body after the type byte. */
export interface Frame {
  type: number;
  body: Buffer;
}

/**
 * Splits a byte stream into frames, whatever the chunking. Pull-based: push()
 * stores bytes, next() returns one complete frame or undefined when more
 * bytes are needed, so the caller can stop between frames (to apply
 * back-pressure) and pick up later without losing anything.
 *
 * Memory: the decoder holds at most the bytes pushed and not yet returned; a
 * frame's bytes are joined only once all of them are in, and a length above
 * `maxFrameSize` is refused before any of its body is awaited, so a peer
 * cannot make us allocate more than `maxFrameSize` plus what it actually sent.
 *
 * Errors (ProtocolError, after which the decoder is unusable):
 * ERR_AIOMSG_FRAME_TOO_LARGE for a length above the limit,
 * ERR_AIOMSG_MALFORMED for a zero length (no room for the type byte).
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private head = 0;
  /** Bytes of chunks[head] already consumed: reading on by offset costs no view per field. */
  private offset = 0;
  private total = 0;
  /** Length of the frame whose body we wait for, or -1 while reading a length prefix. */
  private expecting = -1;
  private failed: ProtocolError | undefined;

  constructor(readonly maxFrameSize: number = DEFAULT_MAX_FRAME_SIZE) {}

  /** Bytes held and not yet returned as frames (the length prefix of the current frame excluded once read). */
  get buffered(): number {
    return this.total;
  }

  /** True when no partial frame is pending: an EOF now is a clean close. */
  get atBoundary(): boolean {
    return this.total === 0 && this.expecting === -1;
  }

  push(chunk: Buffer): void {
    if (this.failed !== undefined) throw this.failed;
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.total += chunk.length;
  }

  next(): Frame | undefined {
    if (this.failed !== undefined) throw this.failed;
    if (this.expecting === -1) {
      if (this.total < LENGTH_PREFIX) return undefined;
      const chunk = this.chunks[this.head]!;
      const at = this.offset;
      let length: number;
      if (chunk.length - at >= LENGTH_PREFIX) {
        length = chunk.readUInt32BE(at);
        this.check(length);
        const start = at + LENGTH_PREFIX;
        const end = start + length;
        if (end <= chunk.length) {
          // Fast path, the common case: the whole frame lies in the first
          // chunk, so it costs one view (the body) and no copy.
          this.total -= LENGTH_PREFIX + length;
          if (end === chunk.length) this.shiftChunk();
          else this.offset = end;
          return { type: chunk[start]!, body: chunk.subarray(start + 1, end) };
        }
        this.skip(LENGTH_PREFIX);
      } else {
        length = this.take(LENGTH_PREFIX).readUInt32BE(0);
        this.check(length);
      }
      this.expecting = length;
    }
    if (this.total < this.expecting) return undefined;
    const envelope = this.take(this.expecting);
    this.expecting = -1;
    return { type: envelope[0]!, body: envelope.subarray(1) };
  }

  private check(length: number): void {
    if (length === 0) this.fail("ERR_AIOMSG_MALFORMED", "empty frame: no envelope type");
    if (length > this.maxFrameSize) {
      this.fail("ERR_AIOMSG_FRAME_TOO_LARGE", `frame of ${length} bytes exceeds the limit of ${this.maxFrameSize}`);
    }
  }

  /** Drops the next `n` bytes, all of which lie in the first chunk. */
  private skip(n: number): void {
    this.total -= n;
    this.offset += n;
    if (this.offset === this.chunks[this.head]!.length) this.shiftChunk();
  }

  /** Removes and returns the next `n` bytes (n <= total); a view when they sit in one chunk. */
  private take(n: number): Buffer {
    this.total -= n;
    const first = this.chunks[this.head]!;
    const available = first.length - this.offset;
    if (available > n) {
      const out = first.subarray(this.offset, this.offset + n);
      this.offset += n;
      return out;
    }
    if (available === n) {
      const out = this.offset === 0 ? first : first.subarray(this.offset);
      this.shiftChunk();
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.chunks[this.head]!;
      const left = chunk.length - this.offset;
      const used = Math.min(left, n - filled);
      chunk.copy(out, filled, this.offset, this.offset + used);
      filled += used;
      if (used === left) this.shiftChunk();
      else this.offset += used;
    }
    return out;
  }

  private shiftChunk(): void {
    this.chunks[this.head] = undefined as unknown as Buffer;
    this.head++;
    this.offset = 0;
    // Compact now and then so the array does not grow for ever.
    if (this.head === this.chunks.length) {
      this.chunks = [];
      this.head = 0;
    } else if (this.head >= 1024) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
  }

  private fail(code: "ERR_AIOMSG_MALFORMED" | "ERR_AIOMSG_FRAME_TOO_LARGE", message: string): never {
    this.failed = new ProtocolError(code, message);
    this.chunks = [];
    this.head = 0;
    this.offset = 0;
    this.total = 0;
    throw this.failed;
  }
}

/**
 * Reads an envelope's body. Throws ProtocolError: ERR_AIOMSG_VERSION for a
 * HELLO of another version, ERR_AIOMSG_BAD_HELLO for a HELLO of the wrong
 * size, ERR_AIOMSG_MALFORMED for a DATA_REQ or ACK too short for its id.
 * A HEARTBEAT's body is ignored; an ACK's bytes past the id are ignored too,
 * so a later protocol revision may extend them.
 */
export function parseEnvelope(frame: Frame): Envelope {
  const { type, body } = frame;
  switch (type) {
    case TYPE_HELLO: {
      if (body.length < 1) throw new ProtocolError("ERR_AIOMSG_BAD_HELLO", "HELLO without a version");
      const version = body[0]!;
      if (version !== PROTOCOL_VERSION) {
        throw new ProtocolError("ERR_AIOMSG_VERSION", `peer speaks protocol version ${version}, we speak ${PROTOCOL_VERSION}`);
      }
      if (body.length !== 1 + IDENTITY_LENGTH) {
        throw new ProtocolError("ERR_AIOMSG_BAD_HELLO", `HELLO body of ${body.length} bytes, expected ${1 + IDENTITY_LENGTH}`);
      }
      return { kind: "hello", version, identity: body.subarray(1) };
    }
    case TYPE_HEARTBEAT:
      return { kind: "heartbeat" };
    case TYPE_DATA:
      return { kind: "data", payload: body };
    case TYPE_DATA_REQ:
      if (body.length < MESSAGE_ID_LENGTH) {
        throw new ProtocolError("ERR_AIOMSG_MALFORMED", `DATA_REQ body of ${body.length} bytes has no room for a message id`);
      }
      return { kind: "data-req", id: body.subarray(0, MESSAGE_ID_LENGTH), payload: body.subarray(MESSAGE_ID_LENGTH) };
    case TYPE_ACK:
      if (body.length < MESSAGE_ID_LENGTH) {
        throw new ProtocolError("ERR_AIOMSG_MALFORMED", `ACK body of ${body.length} bytes has no room for a message id`);
      }
      return { kind: "ack", id: body.subarray(0, MESSAGE_ID_LENGTH) };
    default:
      return { kind: "unknown", type };
  }
}
