/**
 * Frame encoding with batching: many small frames are written into one slab
 * so a burst of messages leaves in one syscall; bodies above
 * {@link COPY_THRESHOLD} are not copied but referenced, so a large message
 * costs one header write and a pointer.
 *
 * ```
 *   slab:  [hdr|body|hdr|body|hdr]   [big body (user's buffer)]   [hdr|body ...]
 *           \____ chunk 1 _______/   \______ chunk 2 ________/    \_ chunk 3 _/
 * ```
 * `take()` returns the chunks for a vectored write and starts a new batch.
 */
import { FLAG_LONG, FLAG_MORE } from "./constants.js";

/** Writes a frame body of an agreed size into `target`, starting at `offset`. */
export type FrameFill = (target: Uint8Array, offset: number) => void;

/** Bodies larger than this are referenced, not copied. */
export const COPY_THRESHOLD = 1024;
const SLAB_SIZE = 64 * 1024;

export class FrameEncoder {
  private slab = Buffer.allocUnsafe(SLAB_SIZE);
  /** Start of the bytes of the current batch that are still in the slab. */
  private start = 0;
  private position = 0;
  private chunks: Buffer[] = [];
  /** Bytes queued in the current batch. */
  pending = 0;

  /** Appends one data frame; `more` sets the MORE flag. */
  writeFrame(body: Uint8Array, more: boolean): void {
    const size = body.length;
    const flags = more ? FLAG_MORE : 0;
    if (size <= 255) {
      this.reserve(2 + size);
      const slab = this.slab;
      let p = this.position;
      slab[p++] = flags;
      slab[p++] = size;
      if (size > 0) {
        if (size < 32) {
          for (let i = 0; i < size; i++) slab[p + i] = body[i]!;
        } else {
          slab.set(body, p);
        }
      }
      this.position = p + size;
    } else {
      const copy = size <= COPY_THRESHOLD;
      this.reserve(copy ? 9 + size : 9);
      const slab = this.slab;
      const p = this.position;
      slab[p] = flags | FLAG_LONG;
      // Sizes are below 2^53, so the high word fits a plain division.
      slab.writeUInt32BE(Math.floor(size / 0x1_0000_0000), p + 1);
      slab.writeUInt32BE(size >>> 0, p + 5);
      this.position = p + 9;
      if (copy) {
        slab.set(body, this.position);
        this.position += size;
      } else {
        this.cut();
        this.chunks.push(toBuffer(body));
      }
    }
    this.pending += size + (size <= 255 ? 2 : 9);
  }

  /**
   * Appends one data frame (no MORE) of `size` bytes that `fill` writes in
   * place, at `offset` of `target`: a message encoded straight into the
   * batch, without a buffer of its own. A body above COPY_THRESHOLD gets its
   * own buffer, as in writeFrame.
   */
  writeFrameWith(size: number, fill: FrameFill): void {
    if (size > COPY_THRESHOLD) {
      const body = Buffer.allocUnsafe(size);
      fill(body, 0);
      this.writeFrame(body, false);
      return;
    }
    const head = size <= 255 ? 2 : 9;
    this.reserve(head + size);
    const slab = this.slab;
    const p = this.position;
    if (head === 2) {
      slab[p] = 0;
      slab[p + 1] = size;
    } else {
      slab[p] = FLAG_LONG;
      slab.writeUInt32BE(0, p + 1);
      slab.writeUInt32BE(size, p + 5);
    }
    // Advanced only once the body is written: a fill that throws leaves nothing behind.
    fill(slab, p + head);
    this.position = p + head + size;
    this.pending += head + size;
  }

  /** Appends pre-encoded bytes (greeting, command frames). */
  writeRaw(bytes: Uint8Array): void {
    if (bytes.length > COPY_THRESHOLD) {
      this.cut();
      this.chunks.push(toBuffer(bytes));
    } else {
      this.reserve(bytes.length);
      this.slab.set(bytes, this.position);
      this.position += bytes.length;
    }
    this.pending += bytes.length;
  }

  /** Returns the batch as chunks for one vectored write, and starts a new one. */
  take(): Buffer[] {
    this.cut();
    const chunks = this.chunks;
    this.chunks = [];
    this.pending = 0;
    return chunks;
  }

  /** Moves the slab bytes of this batch into the chunk list. */
  private cut(): void {
    if (this.position > this.start) {
      this.chunks.push(this.slab.subarray(this.start, this.position));
      this.start = this.position;
    }
  }

  private reserve(bytes: number): void {
    if (this.position + bytes <= this.slab.length) return;
    this.cut();
    // The old slab stays alive through the chunks that view it.
    this.slab = Buffer.allocUnsafe(Math.max(SLAB_SIZE, bytes));
    this.start = 0;
    this.position = 0;
  }
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}

/** Encodes one standalone data frame (tests, tools). */
export function encodeFrame(body: Uint8Array, more = false): Buffer {
  const encoder = new FrameEncoder();
  encoder.writeFrame(body, more);
  const chunks = encoder.take();
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}
