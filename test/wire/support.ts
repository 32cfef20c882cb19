/**
 * Helpers shared by the wire tests: a recording frame sink, chunking of a
 * byte stream at given cut points, and the JSON vectors.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { ProtocolError } from "../../src/errors.js";
import { FrameDecoder, type FrameSink, type Greeting } from "../../src/wire/index.js";

export function hex(text: string): Buffer {
  return Buffer.from(text.replace(/\s+/g, ""), "hex");
}

export function ascii(text: string): Buffer {
  return Buffer.from(text, "latin1");
}

export interface RecordedFrame {
  flags: number;
  body: Buffer;
}

/** A sink that keeps copies of everything it receives, in order. */
export class Recorder implements FrameSink {
  greetings: Greeting[] = [];
  frames: RecordedFrame[] = [];
  /** "greeting" or "frame", in arrival order. */
  events: string[] = [];
  onGreeting(greeting: Greeting): void {
    this.greetings.push(greeting);
    this.events.push("greeting");
  }
  onFrame(body: Buffer, flags: number): void {
    this.frames.push({ flags, body: Buffer.from(body) });
    this.events.push("frame");
  }
}

/** Splits `bytes` at the given offsets (any order, duplicates give empty chunks). */
export function chunksAt(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const points = cuts.map((c) => Math.max(0, Math.min(bytes.length, c))).sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const p of points) {
    chunks.push(bytes.subarray(start, p));
    start = p;
  }
  chunks.push(bytes.subarray(start));
  return chunks;
}

export function byteByByte(bytes: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i++) chunks.push(bytes.subarray(i, i + 1));
  return chunks;
}

/** Cut points for a stream of `length` bytes. */
export function cutsFor(length: number, maxCuts = 24): fc.Arbitrary<number[]> {
  return fc.array(fc.integer({ min: 0, max: length }), { maxLength: maxCuts });
}

export interface Decoded {
  recorder: Recorder;
  decoder: FrameDecoder;
  error: unknown;
}

/** Feeds chunks to a fresh decoder; stops at the first throw and returns it. */
export function decode(
  chunks: readonly Buffer[],
  options: { greeting?: boolean; maxFrameSize?: number } = {},
): Decoded {
  const recorder = new Recorder();
  const decoder = new FrameDecoder(recorder, options.maxFrameSize ?? -1, options.greeting ?? false);
  let error: unknown;
  for (const chunk of chunks) {
    try {
      decoder.push(chunk);
    } catch (e) {
      error = e;
      break;
    }
  }
  return { recorder, decoder, error };
}

/** Asserts `error` is a ProtocolError, with `code` when given. */
export function assertProtocolError(error: unknown, code?: string): asserts error is ProtocolError {
  assert.ok(error instanceof ProtocolError, `expected a ProtocolError, got ${String(error)}`);
  assert.match(error.code, /^ERR_ZMTP_/);
  if (code !== undefined) assert.equal(error.code, code);
}

/** Runs `fn` and returns what it threw (fails if it did not throw). */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  assert.fail("expected an exception");
}

export interface VectorFrame {
  flags: number;
  more: boolean;
  command: boolean;
  long: boolean;
  size: number;
  body: string;
}

export interface Vector {
  name: string;
  description: string;
  kind: "greeting" | "frames" | "partial-greeting";
  weSend: boolean;
  hex: string;
  greeting?: { major: number; minor: number; mechanism: string; asServer: boolean; padding: string };
  frames?: VectorFrame[];
  command?: {
    name: string;
    data: string;
    properties?: Array<{ name: string; value: string }>;
    reason?: string;
    ttlDeciseconds?: number;
    context?: string;
    topic?: string;
    user?: string;
    password?: string;
  };
  subscription?: { subscribe: boolean; topic: string };
}

/** Loads test/vectors/zmtp.json, found by walking up from the compiled test. */
export function loadVectors(): Vector[] {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, "test", "vectors", "zmtp.json");
    if (existsSync(file)) return JSON.parse(readFileSync(file, "utf8")) as Vector[];
    const parent = dirname(dir);
    if (parent === dir) throw new Error("test/vectors/zmtp.json not found");
    dir = parent;
  }
}
