/**
 * Tools for playing a hostile peer by hand: a raw node:net connection that
 * writes chosen chunks and records what Switchboard answers, a parser for
 * that answer, and a manual clock to drive handshake deadlines without
 * waiting on wall-clock time.
 */
import net from "node:net";
import type { Clock, TimerHandle } from "../../src/connection/clock.js";
import { chunksAt } from "../wire/support.js";

/** A clock whose time moves only when the test says so. */
export class ManualClock implements Clock {
  private time = 0;
  private nextId = 1;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = this.nextId++;
    this.timers.set(id, { at: this.time + Math.max(0, ms), fn });
    return { id };
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers.delete((handle as { id: number }).id);
  }

  /** Timers not yet fired nor cleared. */
  get pending(): number {
    return this.timers.size;
  }

  /** Moves time forward, firing every timer that falls due, earliest first. */
  advance(ms: number): void {
    const until = this.time + ms;
    for (;;) {
      let due: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.timers) if (entry[1].at <= until && (!due || entry[1].at < due[1].at)) due = entry;
      if (!due) break;
      this.timers.delete(due[0]);
      this.time = due[1].at;
      due[1].fn();
    }
    this.time = until;
  }
}

/** A frame Switchboard sent us. */
export interface OutFrame {
  flags: number;
  body: Buffer;
}

/** Parses Switchboard's side of the conversation: its 64-byte greeting, then frames; a partial tail is left out. */
export function parseOutput(bytes: Buffer): { greeting: Buffer | undefined; frames: OutFrame[] } {
  if (bytes.length < 64) return { greeting: undefined, frames: [] };
  const frames: OutFrame[] = [];
  let at = 64;
  for (;;) {
    if (at + 2 > bytes.length) break;
    const flags = bytes[at]!;
    const long = (flags & 2) !== 0;
    if (long && at + 9 > bytes.length) break;
    const size = long ? Number(bytes.readBigUInt64BE(at + 1)) : bytes[at + 1]!;
    const start = at + (long ? 9 : 2);
    if (start + size > bytes.length) break;
    frames.push({ flags, body: bytes.subarray(start, start + size) });
    at = start + size;
  }
  return { greeting: bytes.subarray(0, 64), frames };
}

/** The command frames named `name` in Switchboard's output, as their data. */
export function commandsNamed(frames: readonly OutFrame[], name: string): Buffer[] {
  const out: Buffer[] = [];
  for (const { flags, body } of frames) {
    if ((flags & 4) === 0 || body.length < 1 + body[0]!) continue;
    if (body.toString("latin1", 1, 1 + body[0]!) === name) out.push(body.subarray(1 + body[0]!));
  }
  return out;
}

/** One raw connection to a bound endpoint. */
export class RawPeer {
  private readonly chunks: Buffer[] = [];
  private outputWaiters: Array<() => void> = [];
  /** True once the connection is fully closed. */
  isClosed = false;
  /** True when Switchboard ended or reset the connection before we ended our side. */
  closedByServer = false;
  private endedByUs = false;
  readonly closed: Promise<void>;

  private constructor(readonly socket: net.Socket) {
    // Writes after Switchboard dropped us fail with EPIPE/ECONNRESET: expected here.
    socket.on("error", () => {
      if (!this.endedByUs) this.closedByServer = true;
    });
    socket.on("end", () => {
      if (!this.endedByUs) this.closedByServer = true;
    });
    socket.on("data", (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.wake();
    });
    this.closed = new Promise((resolve) =>
      socket.once("close", () => {
        this.isClosed = true;
        this.wake();
        resolve();
      }),
    );
  }

  /** Connects to tcp://host:port or ipc:///path. */
  static async open(endpoint: string): Promise<RawPeer> {
    const socket = endpoint.startsWith("ipc://")
      ? net.connect({ path: endpoint.slice("ipc://".length) })
      : net.connect({ host: "127.0.0.1", port: Number(endpoint.slice(endpoint.lastIndexOf(":") + 1)), noDelay: true });
    const peer = new RawPeer(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    return peer;
  }

  get output(): Buffer {
    return Buffer.concat(this.chunks);
  }

  /** Writes the chunks one by one, each after the previous one left; stops early if the connection closes. */
  async write(chunks: readonly Buffer[]): Promise<void> {
    for (const chunk of chunks) {
      if (this.isClosed || this.socket.destroyed) return;
      if (chunk.length === 0) continue;
      await Promise.race([new Promise<void>((resolve) => this.socket.write(chunk, () => resolve())), this.closed]);
    }
  }

  /** Half-closes our side: Switchboard sees the end of the stream. */
  end(): void {
    this.endedByUs = true;
    if (!this.socket.destroyed) this.socket.end();
  }

  destroy(): void {
    this.endedByUs = true;
    this.socket.destroy();
  }

  /** Resolves once `ready(output)` holds, or the connection closed (then reports whether it held). */
  async until(ready: (output: Buffer) => boolean): Promise<boolean> {
    for (;;) {
      if (ready(this.output)) return true;
      if (this.isClosed) return false;
      await new Promise<void>((resolve) => this.outputWaiters.push(resolve));
    }
  }

  private wake(): void {
    const waiters = this.outputWaiters;
    this.outputWaiters = [];
    for (const w of waiters) w();
  }
}

const BYTEWISE_LIMIT = 1024;

/** Splits `bytes` into chunks: all at once, one byte at a time, or at the given cut points. */
export function chunk(bytes: Buffer, how: Chunking): Buffer[] {
  if (how.kind === "whole") return [bytes];
  if (how.kind === "bytes") {
    // One byte per write for the first KiB (where greeting, READY and headers are), then the rest at once.
    const out: Buffer[] = [];
    const n = Math.min(bytes.length, BYTEWISE_LIMIT);
    for (let i = 0; i < n; i++) out.push(bytes.subarray(i, i + 1));
    if (bytes.length > n) out.push(bytes.subarray(n));
    return out;
  }
  // Distinct cuts only: a repeated cut would add an empty write.
  return chunksAt(bytes, [...new Set(how.cuts.map((c) => Math.min(bytes.length, c)))]);
}

export type Chunking = { kind: "whole" } | { kind: "bytes" } | { kind: "cuts"; cuts: number[] };
