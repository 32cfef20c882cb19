/**
 * The incremental ZMTP decoder: a state machine that any chunking can feed
 * (one byte at a time, or greeting + READY + messages in one read).
 *
 * ```
 *   GREETING --64 bytes--> HEADER --flags+size--> BODY --size bytes--> HEADER ...
 * ```
 *
 * "Need more bytes" is a state, never an error. A frame is checked from its
 * header alone (size limit, flag rules) before a single body byte is kept, so
 * a hostile size field costs nothing. A body that lies inside one chunk is
 * handed out as a view of that chunk (no copy); one that spans chunks is
 * gathered and joined once.
 *
 * The decoder is pure: it emits to a {@link FrameSink} and throws a
 * {@link ProtocolError} on malformed input, after which it ignores all input.
 */
import { ProtocolError } from "../errors.js";
import { FLAG_COMMAND, FLAG_LONG, FLAG_MORE, GREETING_SIZE } from "./constants.js";
import { checkGreetingPrefix, parseGreeting, type Greeting } from "./greeting.js";

export interface FrameSink {
  /** The peer's full greeting arrived and is acceptable so far. */
  onGreeting(greeting: Greeting): void;
  /** One frame: `flags` carries MORE and COMMAND; LONG is already consumed. */
  onFrame(body: Buffer, flags: number): void;
}

const enum State {
  Greeting,
  Header,
  Body,
  Stopped,
}

const TWO_POW_32 = 0x1_0000_0000;
/** Body pieces at least this large are kept as views of their chunk; smaller ones are copied together. */
const VIEW_THRESHOLD = 16 * 1024;

export class FrameDecoder {
  private state: State;
  private readonly greeting = Buffer.alloc(GREETING_SIZE);
  private greetingLength = 0;
  /** A frame header split across chunks (at most 9 bytes). */
  private readonly header = Buffer.alloc(9);
  private headerLength = 0;
  /** The frame being gathered across chunks. */
  private bodyFlags = 0;
  private bodySize = 0;
  private bodyReceived = 0;
  private bodyParts: Buffer[] = [];
  private small: Buffer | undefined;
  private smallLength = 0;

  /**
   * @param sink receives greeting and frames.
   * @param maxFrameSize largest acceptable frame body in bytes; -1 for no limit
   *   (then still capped at Number.MAX_SAFE_INTEGER).
   * @param expectGreeting false to start at the first frame header (tests).
   */
  constructor(
    private readonly sink: FrameSink,
    private readonly maxFrameSize: number,
    expectGreeting = true,
  ) {
    this.state = expectGreeting ? State.Greeting : State.Header;
  }

  /** True once the decoder failed or was stopped: it ignores further input. */
  get stopped(): boolean {
    return this.state === State.Stopped;
  }

  /** Bytes held for a frame that is still arriving (never more than its declared size). */
  get bufferedBytes(): number {
    let n = this.smallLength;
    for (const part of this.bodyParts) n += part.length;
    return n;
  }

  /** Stops decoding, e.g. because the connection is closing. */
  stop(): void {
    this.state = State.Stopped;
    this.bodyParts = [];
    this.small = undefined;
  }

  /** Feeds one chunk. Throws ProtocolError on malformed input. */
  push(chunk: Buffer): void {
    if (this.state === State.Stopped) return;
    try {
      this.run(chunk);
    } catch (error) {
      this.stop();
      throw error;
    }
  }

  private run(chunk: Buffer): void {
    let offset = 0;
    const length = chunk.length;
    if (this.state === State.Greeting) {
      offset = this.readGreeting(chunk);
      if ((this.state as State) !== State.Header) return;
    }
    const sink = this.sink;
    // Short data frames need no limit check when the limit is at least 255.
    const shortFast = this.maxFrameSize < 0 || this.maxFrameSize >= 255;
    while (offset < length) {
      if (this.state === State.Header) {
        // Fast path: whole short data frames inside this chunk.
        if (this.headerLength === 0) {
          const flags = chunk[offset]!;
          if ((flags & FLAG_COMMAND) === 0) {
            if ((flags & FLAG_LONG) === 0) {
              if (shortFast && offset + 1 < length) {
                const start = offset + 2;
                const end = start + chunk[offset + 1]!;
                if (end <= length) {
                  sink.onFrame(chunk.subarray(start, end), flags & FLAG_MORE);
                  offset = end;
                  continue;
                }
              }
            } else if (offset + 9 <= length && (chunk[offset + 1]! | chunk[offset + 2]! | chunk[offset + 3]! | chunk[offset + 4]!) === 0) {
              // Fast path: a long data frame under 4 GiB, whole in this chunk.
              const size =
                (chunk[offset + 5]! * 0x100_0000) + ((chunk[offset + 6]! << 16) | (chunk[offset + 7]! << 8) | chunk[offset + 8]!);
              const start = offset + 9;
              const end = start + size;
              if (end <= length && (this.maxFrameSize < 0 || size <= this.maxFrameSize)) {
                sink.onFrame(chunk.subarray(start, end), flags & FLAG_MORE);
                offset = end;
                continue;
              }
            }
          }
        }
        offset = this.readHeader(chunk, offset);
      } else if (this.state === State.Body) {
        offset = this.readBody(chunk, offset);
      } else {
        return; // stopped by the sink
      }
    }
  }

  private readGreeting(chunk: Buffer): number {
    const take = Math.min(GREETING_SIZE - this.greetingLength, chunk.length);
    chunk.copy(this.greeting, this.greetingLength, 0, take);
    this.greetingLength += take;
    const bad = checkGreetingPrefix(this.greeting, this.greetingLength);
    if (bad) throw bad;
    if (this.greetingLength === GREETING_SIZE) {
      const greeting = parseGreeting(this.greeting);
      this.state = State.Header;
      // The sink may answer (send READY) before any further byte is parsed:
      // that ordering is what avoids libzmq's data-before-READY race.
      this.sink.onGreeting(greeting);
    }
    return take;
  }

  /** Reads one frame header (fast path: whole header inside this chunk). */
  private readHeader(chunk: Buffer, offset: number): number {
    let flags: number;
    let size: number;
    let next: number;
    if (this.headerLength === 0) {
      flags = chunk[offset]!;
      const long = isLongHeader(flags, chunk, offset + 1, chunk.length);
      const headerSize = long ? 9 : 2;
      if (chunk.length - offset < headerSize) {
        chunk.copy(this.header, 0, offset);
        this.headerLength = chunk.length - offset;
        return chunk.length;
      }
      size = long ? readSize64(chunk, offset + 1) : chunk[offset + 1]!;
      next = offset + headerSize;
    } else {
      // Complete a header that was split across chunks.
      const h = this.header;
      flags = h[0]!;
      if (this.headerLength < 2) {
        h[1] = chunk[offset++]!;
        this.headerLength = 2;
      }
      const long = isLongHeader(flags, h, 1, this.headerLength);
      const headerSize = long ? 9 : 2;
      const take = Math.min(headerSize - this.headerLength, chunk.length - offset);
      chunk.copy(h, this.headerLength, offset, offset + take);
      this.headerLength += take;
      offset += take;
      if (this.headerLength < headerSize) return chunk.length;
      size = long ? readSize64(h, 1) : h[1]!;
      this.headerLength = 0;
      next = offset;
    }
    this.checkFrame(flags, size);
    const available = chunk.length - next;
    if (size <= available) {
      const end = next + size;
      this.sink.onFrame(chunk.subarray(next, end), flags & (FLAG_MORE | FLAG_COMMAND));
      return end;
    }
    this.state = State.Body;
    this.bodyFlags = flags & (FLAG_MORE | FLAG_COMMAND);
    this.bodySize = size;
    this.bodyReceived = 0;
    this.bodyParts = [];
    if (available > 0) {
      this.gather(chunk.subarray(next));
      this.bodyReceived = available;
    }
    return chunk.length;
  }

  private readBody(chunk: Buffer, offset: number): number {
    const take = Math.min(this.bodySize - this.bodyReceived, chunk.length - offset);
    if (this.bodyReceived === 0 && take === this.bodySize) {
      // The whole body is in this chunk: hand out a view.
      this.state = State.Header;
      this.sink.onFrame(chunk.subarray(offset, offset + take), this.bodyFlags);
      return offset + take;
    }
    this.gather(chunk.subarray(offset, offset + take));
    this.bodyReceived += take;
    if (this.bodyReceived < this.bodySize) return offset + take;
    this.sealSmall();
    const parts = this.bodyParts;
    const body = parts.length === 1 ? parts[0]! : Buffer.concat(parts, this.bodySize);
    this.bodyParts = [];
    this.state = State.Header;
    this.sink.onFrame(body, this.bodyFlags);
    return offset + take;
  }

  /**
   * Keeps a piece of a body. Large pieces are kept as views; small ones are
   * copied into a buffer that grows by doubling (capped at what the body
   * still needs), so a peer sending one byte per packet cannot make us hold
   * one object per byte.
   */
  private gather(piece: Buffer): void {
    if (piece.length >= VIEW_THRESHOLD) {
      this.sealSmall();
      this.bodyParts.push(piece);
      return;
    }
    let small = this.small;
    if (small === undefined || this.smallLength + piece.length > small.length) {
      const needed = this.smallLength + piece.length;
      const remaining = this.bodySize - this.bodyReceived + this.smallLength;
      const grown = Buffer.allocUnsafe(Math.min(remaining, Math.max(needed, (small?.length ?? 1024) * 2)));
      if (small !== undefined) small.copy(grown, 0, 0, this.smallLength);
      this.small = small = grown;
    }
    piece.copy(small, this.smallLength);
    this.smallLength += piece.length;
  }

  /** Moves the small-piece buffer into the part list. */
  private sealSmall(): void {
    if (this.small !== undefined && this.smallLength > 0) {
      this.bodyParts.push(this.small.subarray(0, this.smallLength));
    }
    this.small = undefined;
    this.smallLength = 0;
  }

  private checkFrame(flags: number, size: number): void {
    if ((flags & FLAG_COMMAND) !== 0) {
      if ((flags & FLAG_MORE) !== 0) {
        throw new ProtocolError("ERR_ZMTP_INVALID_FRAME", "command frame with the MORE flag set");
      }
      if (size === 0) {
        throw new ProtocolError("ERR_ZMTP_MALFORMED_COMMAND_UNSPECIFIED", "empty command frame");
      }
    }
    if (size > Number.MAX_SAFE_INTEGER || (this.maxFrameSize >= 0 && size > this.maxFrameSize)) {
      throw new ProtocolError(
        "ERR_ZMTP_MESSAGE_TOO_LARGE",
        `frame of ${size} bytes exceeds the limit of ${this.maxFrameSize} bytes`,
      );
    }
  }
}

/**
 * Whether the header starting with `flags` uses an 8-byte size. Besides the
 * LONG flag, this accepts libzmq <= 4.3.4's SUBSCRIBE/CANCEL bug (digest
 * §2.10): a command written with an 8-byte size but without LONG. A real
 * short command can never have size 0 (a name takes at least 2 bytes), so a
 * command header whose one-byte size is 0 can only be that bug.
 */
function isLongHeader(flags: number, bytes: Uint8Array, sizeOffset: number, available: number): boolean {
  if ((flags & FLAG_LONG) !== 0) return true;
  return (flags & FLAG_COMMAND) !== 0 && sizeOffset < available && bytes[sizeOffset] === 0;
}

/** Reads an 8-byte big-endian size; values beyond 2^53 come back as Infinity. */
function readSize64(bytes: Buffer, offset: number): number {
  const high = bytes.readUInt32BE(offset);
  const low = bytes.readUInt32BE(offset + 4);
  if (high > 0x1f_ffff) return Number.POSITIVE_INFINITY;
  return high * TWO_POW_32 + low;
}
